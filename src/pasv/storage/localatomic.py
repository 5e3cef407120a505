"""Atomic uploads on a local disk: written into a file nobody sees (O_TMPFILE, or a hidden
name), renamed over the target in one step at commit."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat as st

from pasv.storage.base import WriteMode, check_resume
from pasv.storage.localio import OPEN_FLAGS, check_regular, run_blocking
from pasv.storage.localwrite import TEMP_PREFIX, LocalWriteHandle, RawFile

__all__ = ["AtomicWriteHandle", "open_atomic"]

_COPY = 8 << 20
# Where an unnamed (O_TMPFILE) file can be given a name without privileges: linkat through
# /proc/self/fd. Without /proc, uploads in progress get hidden names instead.
_PROC_FD = "/proc/self/fd"


def _temp_name() -> str:
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"


class AtomicWriteHandle(LocalWriteHandle):
    """An upload into a file nobody can see (O_TMPFILE, or a hidden name); ``commit`` renames it
    over the target in one step, so readers see the old file or the new one, never a part.

    Closed without a commit, the upload leaves nothing behind; with ``keep_partial`` (and at
    least one byte received) what arrived replaces the target instead, to be resumed.
    """

    __slots__ = ("_dir", "_done", "_exclusive", "_keep", "_name", "_temp")

    def __init__(
        self,
        file: RawFile,
        mode: WriteMode,
        dir_fd: int,
        name: str,
        temp: str | None,
        exclusive: bool,
    ) -> None:
        super().__init__(file, mode)
        self._begun = True  # nothing to cut: the target changes only at the rename
        self._dir, self._name, self._temp = dir_fd, name, temp
        self._exclusive, self._keep = exclusive, mode.keep_partial
        self._done = False

    def _publish(self) -> None:
        """Put the file under its name: fsync, name it (O_TMPFILE), then rename or link."""
        if self._fsync:
            os.fsync(self._file.fileno())
        if self._temp is None:
            self._temp = _temp_name()
            os.link(
                f"{_PROC_FD}/{self._file.fileno()}",
                self._temp,
                dst_dir_fd=self._dir,
                follow_symlinks=True,
            )
        temp, self._temp = self._temp, None
        self._done = True  # published or failed: once (a close after a failed commit retries
        renamed = False  # nothing, and leaves no hidden file behind)
        try:
            if self._exclusive:  # STOU: never replace a file that appeared meanwhile
                os.link(temp, self._name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
            else:
                os.rename(temp, self._name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
                renamed = True
        finally:
            if not renamed:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=self._dir)
        if self._fsync:
            os.fsync(self._dir)  # the new name is on disk too

    def _commit(self) -> None:
        with self._lock:
            self._publish()

    async def commit(self) -> None:
        await run_blocking(self._commit)

    def _close(self, discard: bool) -> None:
        with self._lock:
            try:
                if not self._done:
                    if self._keep and self._written and not discard:
                        self._publish()
                    elif self._temp is not None:
                        os.unlink(self._temp, dir_fd=self._dir)
            finally:
                self._release_pipe()
                self._file.close()
                os.close(self._dir)


def _copy_prefix(source: int, target: int, count: int) -> None:
    """The first ``count`` bytes of ``source`` into ``target`` (a resumed atomic upload starts
    from the file it resumes); in the kernel where it can."""
    done = 0
    while done < count:
        try:
            moved = os.copy_file_range(source, target, min(_COPY, count - done), done, done)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            moved = os.pwrite(target, os.pread(source, min(_COPY, count - done), done), done)
        if moved == 0:
            break
        done += moved


def _open_hidden(dir_fd: int) -> tuple[int, str | None]:
    """An unnamed file in the directory, or, where the file system cannot, a hidden name."""
    if os.path.isdir(_PROC_FD):
        try:
            flags = os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC
            return os.open(".", flags, 0o666, dir_fd=dir_fd), None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise
    name = _temp_name()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    return os.open(name, flags, 0o666, dir_fd=dir_fd), name


def open_atomic(
    parent: str,
    name: str,
    *,
    offset: int,
    append: bool,
    exclusive: bool,
    mode: WriteMode,
    unnamed: bool = True,
) -> AtomicWriteHandle:
    """Start an atomic upload of ``parent/name`` (``parent`` a resolved host directory).

    A resumed upload (``offset``, or ``append``) starts as a copy of that much of the current
    file; a replaced file's permission bits carry over to the new one.
    """
    dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fd = -1
    temp: str | None = None
    try:
        try:
            current: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            current = None
        if current is not None:
            if exclusive:
                raise FileExistsError(errno.EEXIST, "File exists")
            check_regular(current)
        if not append:
            check_resume(offset, current.st_size if current is not None else 0)
        if unnamed:
            fd, temp = _open_hidden(dir_fd)
        else:
            temp = _temp_name()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
            fd = os.open(temp, flags, 0o666, dir_fd=dir_fd)
        start = 0
        if current is not None:
            os.fchmod(fd, st.S_IMODE(current.st_mode))
            keep = current.st_size if append else offset
            if keep:
                source = os.open(name, os.O_RDONLY | OPEN_FLAGS, dir_fd=dir_fd)
                try:
                    _copy_prefix(source, fd, keep)
                finally:
                    os.close(source)
            start = current.st_size if append else offset
        os.lseek(fd, start, os.SEEK_SET)
        file, fd = RawFile(fd), -1
        return AtomicWriteHandle(file, mode, dir_fd, name, temp, exclusive)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
        os.close(dir_fd)
        raise
