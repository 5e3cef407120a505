"""The transfer log in the standard xferlog format, one line per finished or aborted transfer."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger("pasv.xferlog")


# never a symbolic link: root opens it in a directory the serving user owns (docs/deployment.md)
OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def open_again(path: Path | None, fd: int | None, what: str) -> int | None:
    """The descriptor a log writes to after SIGHUP (log rotation): ``fd`` when a privileged
    parent opened it, else ``path`` opened again; None (logged) when that cannot be done."""
    if fd is not None or path is None:
        return fd
    try:
        return os.open(path, OPEN_FLAGS, 0o640)
    except OSError as exc:
        logging.getLogger("pasv.server").error("cannot reopen the %s %s: %s", what, path, exc)
        return None


class XferLog:
    """Appends xferlog lines: time, duration, host, bytes, file, type, flag, direction, mode, user,
    service, auth method, auth id, completion (c complete / i incomplete)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None
        self._stamp = (-1, "")  # the formatted local time of the last second a line was written
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, OPEN_FLAGS, 0o640)

    def record(
        self,
        *,
        seconds: float,
        host: str,
        size: int,
        path: str,
        binary: bool,
        direction: str,
        anonymous: bool,
        user: str,
        complete: bool,
    ) -> str:
        """Write one line and return it."""
        name = path.replace(" ", "_").replace("\n", "_").replace("\r", "_")
        line = " ".join(
            (
                self._now(),
                str(max(1, round(seconds))),
                host,
                str(size),
                name,
                "b" if binary else "a",
                "_",
                direction,
                "a" if anonymous else "r",
                user.replace(" ", "_"),
                "ftp",
                "0",
                "*",
                "c" if complete else "i",
            )
        )
        if self._fd is not None:
            try:
                os.write(self._fd, (line + "\n").encode("utf-8", "replace"))
            except OSError as exc:
                log.error("cannot write the transfer log %s: %s", self.path, exc)
        return line

    def _now(self) -> str:
        """The local time as xferlog writes it, formatted once per second."""
        second = int(time.time())
        if second != self._stamp[0]:
            text = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(second))
            self._stamp = (second, text)
        return self._stamp[1]

    def reopen(self, fd: int | None = None) -> None:
        """Write to a new file from now on (after log rotation): ``fd`` opened by a privileged
        parent, or the path opened again."""
        fd = open_again(self.path, fd, "transfer log")
        if fd is not None:
            self.close()
            self._fd = fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
