"""The transfer log in the standard xferlog format, one line per finished or aborted transfer."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("pasv.xferlog")

# What a file or user name must not carry into an xferlog line, each written as "_": every
# character str.split() splits on (the format's fields are separated by whitespace, and a tab,
# U+00A0 or the ideographic space U+3000 in a name made a line of too many fields, which parsers
# skip), every line break str.splitlines() knows (\v, \f, U+0085, U+2028 ...: no name forges or
# cuts a line) and every other C0/C1 control character.
_SPLIT_ON = (0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_BLANKS = dict.fromkeys(
    (*range(0x21), *range(0x7F, 0xA1), *_SPLIT_ON),
    "_",
)


def field(text: str) -> str:
    """``text`` as one xferlog field (the admin API's history search looks names up so too)."""
    return text.translate(_BLANKS)


# never a symbolic link: root opens it in a directory the serving user owns (docs/deployment.md)
OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
# a log the admin API reads back (the transfer and audit logs) is opened for reading too: one
# set elsewhere (logging.xferlog, admin.audit_log), made or kept root's when pasv starts as
# root, is read through the descriptor root opened, never by its path (docs/security.md)
READ_BACK_FLAGS = (OPEN_FLAGS & ~os.O_WRONLY) | os.O_RDWR


def open_again(path: Path | None, fd: int | None, what: str, flags: int = OPEN_FLAGS) -> int | None:
    """The descriptor a log writes to after SIGHUP (log rotation): ``fd`` when a privileged
    parent opened it, else ``path`` opened again; None (logged) when that cannot be done."""
    if fd is not None or path is None:
        return fd
    try:
        return os.open(path, flags, 0o640)
    except OSError as exc:
        logging.getLogger("pasv.server").error("cannot reopen the %s %s: %s", what, path, exc)
        return None


def open_read_back(path: Path, what: str) -> int:
    """A log the admin API reads back, opened (as root when pasv starts as root, before the
    switch): one set elsewhere (e.g. in /var/log) then stays root's, and is written and read
    through this descriptor only."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, READ_BACK_FLAGS, 0o640)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open the {what} {path}: {exc.strerror}") from None


class ReadBack:
    """The descriptor of a log the admin API reads back in a thread while the event loop
    writes to it and, on SIGHUP, swaps it: a reader takes a duplicate under the lock, so it
    never reads a descriptor closed (and its number reused) meanwhile."""

    def __init__(self, path: Path | None, fd: int | None) -> None:
        self.path = path
        self.fd = fd
        self._lock = threading.Lock()

    def swap(self, fd: int | None) -> None:
        with self._lock:
            old, self.fd = self.fd, fd
        if old is not None:
            os.close(old)

    @contextlib.contextmanager
    def reading(self) -> Iterator[int | None]:
        """A descriptor to read with ``os.pread`` (None when there is none), closed after."""
        with self._lock:
            fd = None if self.fd is None else os.dup(self.fd)
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)


class XferLog:
    """Appends xferlog lines: time, duration, host, bytes, file, type, flag, direction, mode, user,
    service, auth method, auth id, completion (c complete / i incomplete)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stamp = (-1, "")  # the formatted local time of the last second a line was written
        fd = None if path is None else open_read_back(path, "transfer log")
        self.file = ReadBack(path, fd)  # the admin API searches it (history.search)

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
        line = " ".join(
            (
                self._now(),
                str(max(1, round(seconds))),
                host,
                str(size),
                field(path),
                "b" if binary else "a",
                "_",
                direction,
                "a" if anonymous else "r",
                field(user),
                "ftp",
                "0",
                "*",
                "c" if complete else "i",
            )
        )
        if self.file.fd is not None:
            try:
                os.write(self.file.fd, (line + "\n").encode("utf-8", "replace"))
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
        fd = open_again(self.path, fd, "transfer log", READ_BACK_FLAGS)
        if fd is not None:
            self.file.swap(fd)

    def close(self) -> None:
        self.file.swap(None)
