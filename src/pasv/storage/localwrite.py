"""Upload handles on a local disk written in place (an atomic upload's handle, which extends
``LocalWriteHandle``, is ``pasv.storage.localatomic``'s), and the names of uploads in progress."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from pasv.protocol.errors import LocalError
from pasv.storage.base import IN_PLACE, WriteMode
from pasv.storage.localio import open_regular, run_blocking, translate_os_error

__all__ = ["TEMP_PREFIX", "LocalWriteHandle", "RawFile", "is_temporary", "open_target"]

# Names of uploads in progress when the file system has no O_TMPFILE (and for the instant between
# naming an O_TMPFILE upload and renaming it onto its target). Never listed, served or creatable.
TEMP_PREFIX = ".pasv-upload-"
_PIPE_SIZE = 1 << 20  # the default pipe-max-size
_SPLICE_IN = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK  # never wait on the socket
_SPLICE_OUT = os.SPLICE_F_MOVE  # the file takes all that is in the pipe


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


class RawFile:
    """An upload's descriptor, written with ``os.write``: what a handle needs of a file object
    (``write``, ``fileno``, ``close``) without the ``fstat`` that making an ``io.FileIO`` of a
    descriptor costs (the open has just made one, for its regular-file check)."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("I/O operation on closed file.")
        return self._fd

    def write(self, data: bytes | memoryview) -> int:
        return os.write(self.fileno(), data)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:  # a handle dropped unclosed still gives its descriptor back
        self.close()


class LocalWriteHandle:
    """A file opened for upload; short writes are retried until all bytes are written.

    Opening changes nothing a reader sees but a new, empty file where there was none: the cut
    of a STOR (to 0 bytes, or a resumed one to its first n) is made by ``begin``, once the data
    connection is up, or at the latest before the first write. Closed before that, the upload
    leaves the file as it was (``created``: one it made is removed again).

    ``undo`` (in place): the file's host path and the bytes of it the upload keeps in front
    (an APPE's old file, a resumed STOR's first n; None: it keeps none), for ``close(discard=
    True)``, which cuts the file back to them, or removes a file that kept none.
    """

    __slots__ = (
        "_append",
        "_begun",
        "_created",
        "_cut",
        "_file",
        "_fsync",
        "_lock",
        "_pipe",
        "_undo",
        "_written",
    )

    def __init__(
        self,
        file: RawFile,
        mode: WriteMode = IN_PLACE,
        undo: tuple[str, int | None] | None = None,
        *,
        cut: int | None = None,
        created: bool = False,
        append: bool = False,
    ) -> None:
        self._file = file
        self._append = append  # opened with O_APPEND
        self._written = 0
        self._fsync = mode.fsync
        self._lock = threading.Lock()
        self._pipe: tuple[int, int] | None = None  # for splice_from, made on first use
        self._undo = undo
        self._cut = cut  # the length ``begin`` cuts the file to (None: nothing to cut)
        self._created = created
        self._begun = False

    @property
    def written(self) -> int:
        return self._written

    def _begin(self) -> None:
        """Under the lock: make the cut opening left for the start of the data."""
        if self._file.closed:
            raise LocalError("File is already closed.")
        self._begun = True
        if self._cut is not None:
            os.ftruncate(self._file.fileno(), self._cut)
            self._cut = None

    def _begin_locked(self) -> None:
        with self._lock:
            if not self._begun:
                self._begin()

    async def begin(self) -> None:
        """The data connection is up: from here the upload changes the file."""
        if self._cut is not None:
            await run_blocking(self._begin_locked)
        self._begun = True  # nothing to cut (a new file, an APPE): no thread for it

    def _write(self, data: bytes | memoryview) -> None:
        with self._lock:
            if not self._begun:
                self._begin()
            if self._file.closed:
                raise LocalError("File is already closed.")
            with memoryview(data) as whole, whole.cast("B") as view:
                pos = 0
                while pos < len(view):
                    n = self._file.write(view[pos:])
                    pos += n
                    self._written += n

    def write_now(self, data: bytes | memoryview) -> None:
        """Write on the calling thread: for callers that measure and fall back to ``write``."""
        if len(data):
            try:
                self._write(data)
            except OSError as exc:
                raise translate_os_error(exc) from None

    async def write(self, data: bytes | memoryview) -> None:
        if len(data):
            await run_blocking(self._write, data)

    def splicer(self) -> Callable[[int, int], int] | None:
        """``splice_from`` where the kernel can splice into this file (not one opened for
        appending: splice refuses O_APPEND), else None."""
        if self._append:
            return None
        return self.splice_from

    def splice_from(self, source: int, count: int) -> int:
        """Move up to ``count`` bytes that wait on the non-blocking socket ``source`` into the
        file with ``os.splice`` (socket pages to a pipe by reference, then into the page cache:
        they never pass through Python); 0 at the end of the data. BlockingIOError when nothing
        waits. Written on the calling thread, like ``write_now``."""
        with self._lock:
            if not self._begun:
                self._begin()
            if self._file.closed:
                raise LocalError("File is already closed.")
            if self._pipe is None:
                self._pipe = os.pipe2(os.O_CLOEXEC)
                with contextlib.suppress(OSError):  # a larger pipe: fewer calls per MiB
                    fcntl.fcntl(self._pipe[1], fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
            out, into = self._pipe
            moved = os.splice(source, into, count, flags=_SPLICE_IN)
            left = moved
            try:
                while left:
                    left -= os.splice(out, self._file.fileno(), left, flags=_SPLICE_OUT)
            except OSError as exc:
                self._written += moved - left
                raise translate_os_error(exc) from None
            self._written += moved
            return moved

    def _release_pipe(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def _commit(self) -> None:
        with self._lock:
            if not self._begun:
                self._begin()  # an empty upload: the file is what came, nothing
        if self._fsync:
            os.fsync(self._file.fileno())

    async def commit(self) -> None:
        """Every byte is written: in place there is nothing to rename (``fsync`` if set)."""
        if self._fsync or not self._begun:
            await run_blocking(self._commit)

    def _close(self, discard: bool) -> None:
        with self._lock:
            try:
                if not self._begun:  # it never started: leave the file as it was
                    if self._created and self._undo is not None:
                        self._drop(self._undo[0], None)
                elif discard and self._undo is not None:
                    self._drop(*self._undo)
            finally:
                self._release_pipe()
                self._file.close()

    def _drop(self, real: str, kept: int | None) -> None:
        """Take back what this upload wrote in place: the file cut back to the ``kept`` bytes
        it had in front, or, when it kept none, removed (only if the name is still this file)."""
        fd = self._file.fileno()
        if kept is not None:
            os.ftruncate(fd, kept)
            return
        mine = os.fstat(fd)
        with contextlib.suppress(FileNotFoundError):
            there = os.lstat(real)
            if (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino):
                os.unlink(real)

    async def close(self, *, discard: bool = False) -> None:
        if not self._file.closed:
            await run_blocking(self._close, discard)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def open_target(
    real: str, flags: int, *, create: bool, new: bool, found: bool | None = None
) -> tuple[int, os.stat_result, bool]:
    """Open an upload's file in place without changing it (no O_TRUNC); ``create``: make it
    when there is none, ``new``: only a new one (STOU). Also whether this open made it.
    ``found``: whether a walk just now saw a file there (False: making it is tried first)."""
    if new:
        fd, opened = open_regular(real, flags | os.O_CREAT | os.O_EXCL)
        return fd, opened, True
    if create and found is False:
        with contextlib.suppress(FileExistsError):  # made by someone else since: open that
            fd, opened = open_regular(real, flags | os.O_CREAT | os.O_EXCL)
            return fd, opened, True
    while True:
        try:
            fd, opened = open_regular(real, flags)
            return fd, opened, False
        except FileNotFoundError:
            if not create:
                raise
        try:
            fd, opened = open_regular(real, flags | os.O_CREAT | os.O_EXCL)
            return fd, opened, True
        except FileExistsError:
            continue  # made by someone else in between: open that one
