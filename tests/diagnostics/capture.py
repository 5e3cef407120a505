"""Record loopback traffic with tcpdump while a test runs (skips when tcpdump cannot capture)."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pasv.diagnostics.pcap.packets import CaptureError
from pasv.diagnostics.pcap.tcp import Stream

DEADLINE = 10.0


def capture_skip_reason() -> str | None:
    if shutil.which("tcpdump") is None:
        return "tcpdump is not installed (make test installs it)"
    if os.geteuid() != 0:
        return "capturing on lo needs root"
    return None


def _wait_listening(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + DEADLINE
    while b"listening on" not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            proc.kill()
            pytest.skip(f"tcpdump did not start: {seen.decode(errors='replace').strip()}")
        ready, _, _ = select.select([proc.stderr], [], [], remaining)
        if ready:
            seen += os.read(proc.stderr.fileno(), 4096)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)  # polling a condition with a deadline, not synchronising by sleep


@contextlib.contextmanager
def tcpdump(path: Path, bpf: str) -> Iterator[Path]:
    """Capture packets matching ``bpf`` on lo into ``path`` for the duration of the block."""
    reason = capture_skip_reason()
    if reason:
        pytest.skip(reason)
    # A ring slot per packet is snaplen bytes: 65,600 (the lo MTU plus headers) and 32 MiB of
    # buffer give ~500 slots; the default 262,144 x 2 MiB gave 8, and the kernel dropped packets.
    command = ["tcpdump", "-i", "lo", "-n", "-U", "--immediate-mode", "-s", "65600", "-B", "32768"]
    command += ["-Z", "root", "-w", str(path), bpf]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(proc)
        yield path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(DEADLINE)
        if proc.stderr is not None:
            stats = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            dropped = re.search(r"([0-9]+) packets? dropped by kernel", stats)
            if dropped and int(dropped.group(1)):
                raise AssertionError(f"tcpdump lost packets, the capture is not whole: {stats}")


def sessions_closed(path: Path, count: int) -> Callable[[], bool]:
    """A condition: the capture holds ``count`` FTP sessions and every connection has ended.

    tcpdump may write the packets of two connections in another order than they were sent, so
    the end of the control connection does not prove the data connections are all written.
    """
    from pasv.diagnostics.pcap.packets import read_segments
    from pasv.diagnostics.pcap.report import analyse
    from pasv.diagnostics.pcap.tcp import reassemble

    def ended(stream: Stream) -> bool:
        return stream.reset or (stream.closed and not stream.missing)

    def check() -> bool:
        try:
            conns = reassemble(read_segments(path))
            sessions = analyse(path).sessions
        except CaptureError:
            return False  # the last packet is being written
        finished = all(ended(c.c2s) and ended(c.s2c) for c in conns)
        return finished and len(sessions) >= count

    return check
