"""A `pasv serve` node as a real process, with its output collected so a test can wait for a
line (bounded) while it drives clients."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.support import _free_port, _serve, stop_all


class Node:
    """One started `pasv serve` (a single process or a supervisor with workers)."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<EOF>")
            self._changed.notify_all()

    def mark(self) -> int:
        """Where the output is now: ``wait_for(..., since=mark)`` looks at later lines only."""
        with self._changed:
            return len(self.lines)

    def wait_for(
        self, pattern: str, count: int = 1, timeout: float = 20, since: int = 0
    ) -> list[str]:
        """The first ``count`` output lines (from line ``since`` on) matching ``pattern``;
        fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines[since:] if re.search(pattern, line)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] == "<EOF>"):
                    raise AssertionError(f"no {count} line(s) matching {pattern!r} in {self.lines}")
                self._changed.wait(left)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)


def start_node(
    data: Path, procs: list[subprocess.Popen[str]], *extra: str, workers: int = 1
) -> Node:
    """A node on a free port, ready (every worker listening). A free port taken by another
    program before the node binds it: started again on another one (bounded)."""
    for _ in range(3):
        port = _free_port()
        proc = _serve(data, port, "--workers", str(workers), *extra)
        procs.append(proc)
        node = Node(proc, port)
        try:
            node.wait_for(r"listening on .* port \d+ \(passive", count=workers)
            return node
        except AssertionError:
            if not any("Cannot start" in line for line in node.lines):
                raise
            proc.wait(10)
    raise AssertionError("no free port to start on")


@pytest.fixture
def nodes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to stop after the test."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    stop_all(procs)
