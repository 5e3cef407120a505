"""The metrics directory of a run is held by a lock while any of its processes lives; the next
start removes the directories of servers that were killed, and never one still in use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pasv.server.metricsdir import LOCK, PREFIX, MetricsDirectory, sweep

_HOLD = """
import sys, time
from pathlib import Path
from pasv.server.metricsdir import MetricsDirectory
held = MetricsDirectory(Path(sys.argv[1]))
print(held.path, flush=True)
time.sleep(60)
"""


def _holder(base: Path) -> tuple[subprocess.Popen[str], Path]:
    """Another process holding a metrics directory under ``base``, and that directory."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(base)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, Path(proc.stdout.readline().strip())


def test_a_directory_is_removed_with_its_server(tmp_path: Path) -> None:
    made = MetricsDirectory(tmp_path)
    assert made.path.name.startswith(PREFIX) and (made.path / LOCK).exists()
    (made.path / "counter_1.db").write_bytes(b"x")
    made.remove()
    assert list(tmp_path.iterdir()) == []


def test_the_next_start_removes_what_a_killed_server_left(tmp_path: Path) -> None:
    proc, held = _holder(tmp_path)
    try:
        assert sweep(tmp_path) == []  # running: its directory stays
        assert held.is_dir()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert held.is_dir()  # nobody could remove it at the kill
    fresh = MetricsDirectory(tmp_path)  # a new start sweeps
    try:
        assert not held.exists()
        assert [p.name for p in tmp_path.iterdir()] == [fresh.path.name]
    finally:
        fresh.remove()


def test_a_forked_worker_keeps_the_directory_in_use(tmp_path: Path) -> None:
    """The supervisor killed, a worker still running: the directory is still in use."""
    made = MetricsDirectory(tmp_path)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the "worker": holds the inherited lock until told to end
        os.close(write)
        os.read(read, 1)
        os._exit(0)
    os.close(read)
    try:
        os.close(made._lock)  # the supervisor's own hold gone, as if it had been killed
        assert sweep(tmp_path) == []
        assert made.path.is_dir()
    finally:
        os.close(write)  # the worker ends
        os.waitpid(child, 0)
    assert sweep(tmp_path) == [made.path]


def test_what_is_not_a_locked_directory_is_left_alone(tmp_path: Path) -> None:
    unlocked = tmp_path / f"{PREFIX}older"  # made by a version without the lock
    unlocked.mkdir()
    plain = tmp_path / f"{PREFIX}file"
    plain.write_text("not a directory")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / LOCK).touch()
    (tmp_path / f"{PREFIX}link").symlink_to(target)
    assert sweep(tmp_path) == []
    assert unlocked.is_dir() and plain.is_file() and (target / LOCK).exists()
