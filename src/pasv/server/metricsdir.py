"""The per-run directory of the workers' metric files, and the sweep of ones left behind.

A supervisor stopped normally removes its directory. One killed (SIGKILL, the OOM killer, a
power cut of a container) cannot, so every directory carries a lock that its supervisor and
workers hold while they run: the kernel drops it when the last of them ends, however it ends.
The next start removes every directory whose lock it can take. A lock, not a process id, says
"in use": it holds across PID namespaces that share one /tmp, and a reused PID fools nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("pasv.metrics")

PREFIX = "pasv-metrics-"
_STARTING = ".pasv-metrics-starting-"  # not yet locked: never matched by the sweep
LOCK = ".in-use"


class MetricsDirectory:
    """A fresh directory under the system's temporary folder, locked for as long as it lives."""

    def __init__(self, root: Path | None = None) -> None:
        base = Path(tempfile.gettempdir()) if root is None else root
        sweep(base)
        starting = Path(tempfile.mkdtemp(prefix=_STARTING, dir=base))
        self._lock = os.open(starting / LOCK, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # inherited by the forked workers
        self.path = base / (PREFIX + starting.name.removeprefix(_STARTING))
        starting.rename(self.path)  # appears under the swept name only once it is locked

    def chown(self, uid: int, gid: int) -> None:
        os.chown(self.path, uid, gid)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def sweep(base: Path) -> list[Path]:
    """Remove the metrics directories under ``base`` that no running server holds."""
    removed = []
    for entry in base.glob(PREFIX + "*"):
        if _abandoned(entry):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if removed:
        log.info("removed %d metrics directories left by servers that were killed", len(removed))
    return removed


def _abandoned(entry: Path) -> bool:
    """True when ``entry`` is ours to remove: a real directory whose lock nobody holds."""
    try:
        if entry.is_symlink() or not entry.is_dir():
            return False
        if os.geteuid() != 0 and entry.stat().st_uid != os.geteuid():
            return False  # another user's server: not ours to judge
        fd = os.open(entry / LOCK, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:  # gone meanwhile, or made by a version without the lock: left alone
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a server runs with it
    finally:
        os.close(fd)  # closing drops the lock taken here
    return True
