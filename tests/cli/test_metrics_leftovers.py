"""`pasv serve --workers 2` killed with SIGKILL leaves its metrics directory; the next start
removes it, and keeps the one of a server that still runs."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.cli import support
from tests.cli.support import _free_port, _read_until, _serve
from tests.server.helpers import wait_for

from pasv.server.metricsdir import PREFIX

stop = support.stop


def _start(data: Path, tmp: Path, stop: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    proc = _serve(data, _free_port(), "--workers", "2", env={**os.environ, "TMPDIR": str(tmp)})
    stop.append(proc)
    assert "metrics on http://" in _read_until(proc, r"metrics on http://|Cannot start")[-1]
    for _ in range(2):  # both workers forked and serving
        assert "listening on" in _read_until(proc, r"listening on|Cannot start")[-1]
    return proc


def _live_members(group: int) -> set[int]:
    """The processes of a process group that have not exited (a zombie has closed its files)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == group and fields[0] != "Z":
            members.add(int(stat.parent.name))
    return members


def _directories(tmp: Path) -> set[Path]:
    return set(tmp.glob(PREFIX + "*"))


def test_a_killed_servers_metrics_directory_goes_at_the_next_start(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    killed = _start(tmp_path / "one", tmp, stop)
    running = _start(tmp_path / "two", tmp, stop)
    left = _directories(tmp)
    assert len(left) == 2
    assert len(_live_members(killed.pid)) == 3  # the supervisor and two workers
    os.killpg(killed.pid, signal.SIGKILL)  # all of them, no cleanup
    killed.wait(10)
    wait_for(lambda: not _live_members(killed.pid))
    assert _directories(tmp) == left
    third = _start(tmp_path / "three", tmp, stop)
    now = _directories(tmp)
    assert len(now) == 2
    kept = left & now
    assert len(kept) == 1  # the running server's directory stayed ...
    assert running.poll() is None
    os.killpg(running.pid, signal.SIGTERM)  # ... and goes when it stops normally
    running.wait(10)
    assert _directories(tmp) == now - kept
    assert third.poll() is None
