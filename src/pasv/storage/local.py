"""LocalStorage: a jail over one directory on disk, with sendfile-able read handles."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import stat as st
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from pasv.policy.models import Perm
from pasv.protocol.errors import AlreadyExists, FtpError, IsADirectory
from pasv.protocol.listing import FileFacts
from pasv.storage.base import (
    IN_PLACE,
    Capabilities,
    UploadTarget,
    WriteMode,
    check_range,
    into_itself,
    new_digest,
    split_virtual,
)
from pasv.storage.links import LINKS, UNGUARDED, LinkedFacts
from pasv.storage.localio import (
    check_offset,
    open_regular,
    read_owner,
    run_blocking,
    translate_os_error,
    write_owner,
)
from pasv.storage.localrename import rename_no_replace
from pasv.storage.localupload import Uploads
from pasv.storage.localwrite import LocalWriteHandle, is_temporary

__all__ = ["HELD_PREFIX", "LocalStorage", "real_root", "translate_os_error"]

_CHUNK = 1 << 20
# What each operation does at the place a symbolic link leads to (read once: an enum member
# read through its class is slow on Python 3.11, and these are read on every call)
_LIST, _RETR, _MKD, _RMD = Perm.LIST, Perm.RETR, Perm.MKD, Perm.RMD
_DELE, _CHMOD, _TOUCH = Perm.DELE, Perm.SITE_CHMOD, Perm.MFMT | Perm.SITE_UTIME
# A directory held open by descriptor, reached as /proc/self/fd/N/...: a process that dropped its
# privileges may not walk the host path to it (a mode-0700 home above the data directory).
HELD_PREFIX = "/proc/self/fd/"


def real_root(path: Path | str) -> str:
    """realpath, except below a held directory (resolving it would lead to the host path)."""
    text = os.fspath(path)
    return text if text.startswith(HELD_PREFIX) else os.path.realpath(text)


def _kind(mode: int) -> Literal["file", "dir", "link", "other"]:
    if st.S_ISREG(mode):
        return "file"
    if st.S_ISDIR(mode):
        return "dir"
    if st.S_ISLNK(mode):
        return "link"
    return "other"


def _facts(name: str, s: os.stat_result, make: Callable[..., FileFacts] = FileFacts) -> FileFacts:
    return make(
        name=name,
        kind=_kind(s.st_mode),
        size=s.st_size,
        mtime=s.st_mtime,
        mode=st.S_IMODE(s.st_mode),
        nlink=s.st_nlink,
        unique=f"{s.st_dev:x}g{s.st_ino:x}",
    )


def _linked(name: str, s: os.stat_result, target: str) -> FileFacts:
    """An entry that is a symbolic link to ``target``, described by what it points to."""
    return _facts(name, s, functools.partial(LinkedFacts, target=target))


class LocalReadHandle:
    """A file opened for download at the requested offset.

    A download by sendfile needs only the descriptor; the file object that reads it (ASCII, MODE
    B/C, TLS from a thread) is made on first use, so a small RETR spends no ``fstat`` on it."""

    __slots__ = ("_file", "_lock", "_offset", "_opened", "_size", "descriptor")

    def __init__(
        self, fd: int, size: int, offset: int = 0, opened: os.stat_result | None = None
    ) -> None:
        self.descriptor: int | None = fd
        self._size = size
        self._opened = opened
        self._offset = offset
        self._file: io.FileIO | None = None
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    @property
    def file(self) -> io.FileIO:
        """The descriptor as a file object, positioned at the offset (made once)."""
        file = self._file
        if file is None:
            fd = self.descriptor
            if fd is None:
                raise ValueError("I/O operation on closed file.")
            file = self._file = open(fd, "rb", buffering=0)  # noqa: SIM115 - owned by the handle
            if self._offset:
                file.seek(self._offset)
        return file

    def _read(self, n: int) -> bytes:
        with self._lock:
            return self.file.read(n) or b""

    def changed(self) -> bool:
        """Whether another writer changed the file since it was opened (one ``fstat``): its
        size, its modification time, or its change time. The change time alone moves when the
        file loses or gains a name too (an atomic upload replacing it, a DELE): that is not a
        change of its bytes, so it counts only while the link count is the same."""
        opened, fd = self._opened, self.descriptor
        if opened is None or fd is None:
            return False
        now = os.fstat(fd)
        if (now.st_size, now.st_mtime_ns, now.st_ino) != (
            opened.st_size,
            opened.st_mtime_ns,
            opened.st_ino,
        ):
            return True
        return now.st_nlink == opened.st_nlink and now.st_ctime_ns != opened.st_ctime_ns

    async def read(self, n: int) -> bytes:
        return await run_blocking(self._read, n)

    async def close(self) -> None:
        # Inline: closing a descriptor opened for reading never waits on the disk, and a thread
        # hop would cost more than the close itself (this is on every download's path).
        with self._lock:
            fd, self.descriptor = self.descriptor, None  # no stale descriptor after the close
            if self._file is not None:
                self._file.close()
            elif fd is not None:
                os.close(fd)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class LocalStorage(Uploads):
    """Virtual paths mapped under one host directory; nothing outside it is reachable.

    Paths are resolved with realpath and opened with O_NOFOLLOW on the final component; a local
    user racing to swap an intermediate directory for a symlink is outside this jail's threat model.
    Below a held directory (``HELD_PREFIX``) a symlink resolves to a host path, never inside the
    root, so every symlink there is refused: the jail fails closed.
    """

    def __init__(
        self, root: Path | str, *, unnamed_uploads: bool = True, mounted_at: str = ""
    ) -> None:
        """``unnamed_uploads``: atomic uploads use O_TMPFILE where the file system has it (a
        crash leaves nothing); off, or where it has not, they use hidden names.
        ``mounted_at``: the virtual folder this root is (``/name``), for the link guard."""
        super().__init__(real_root(root), mounted_at, unnamed=unnamed_uploads)
        self._capabilities = Capabilities()

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def capabilities_at(self, path: str) -> Capabilities:
        return self.capabilities

    @property
    def real_root(self) -> Path:
        """The resolved host directory (for the operator; never shown to a client)."""
        return Path(self._root)

    # --- reading ---------------------------------------------------------------------------
    def _stat(self, path: str) -> FileFacts:
        parts = split_virtual(path)
        return _facts(parts[-1] if parts else "/", os.stat(self._resolve(path, _LIST)))

    async def stat(self, path: str) -> FileFacts:
        return await run_blocking(self._stat, path)

    def _entry_facts(self, entry: os.DirEntry[str], follow: bool) -> FileFacts:
        if follow and entry.is_symlink():
            try:  # described by what it points to; the session decides who sees it
                real = os.path.realpath(entry.path)
                if self._inside(real):
                    return _linked(entry.name, entry.stat(), self._virtual(real))
            except OSError:
                pass  # dangling or looping: describe the link itself
            return _facts(entry.name, entry.stat(follow_symlinks=False))
        return _facts(entry.name, entry.stat(follow_symlinks=False))

    def _listdir(self, path: str) -> list[FileFacts]:
        result: list[FileFacts] = []
        # no session to decide who sees a link's target: links are described as links
        follow = LINKS.get() is not UNGUARDED
        with os.scandir(self._resolve(path, _LIST)) as it:
            for entry in it:
                if is_temporary(entry.name):
                    continue  # an upload in progress: not a file yet
                try:
                    result.append(self._entry_facts(entry, follow))
                except OSError:
                    continue  # removed while we were listing
        result.sort(key=lambda f: f.name)
        return result

    async def listdir(self, path: str) -> list[FileFacts]:
        return await run_blocking(self._listdir, path)

    def _open_read(self, path: str, offset: int) -> LocalReadHandle:
        # The usual download is of a file, not of a link: its entry is opened without a final
        # lstat (O_NOFOLLOW refuses a link with ELOOP), and only a link is resolved then.
        # A link crossed on the way is checked after the open, before anything is read.
        parts = self._parts(path)
        real, crossed = self._located(parts, follow=False)
        try:
            fd, s = open_regular(real, os.O_RDONLY)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            real, crossed = self._located(parts)
            fd, s = open_regular(real, os.O_RDONLY)
        if crossed:
            try:
                self._through(_RETR, parts, real)
            except BaseException:
                os.close(fd)
                raise
        return LocalReadHandle(fd, s.st_size, offset, s)

    async def open_read(self, path: str, offset: int = 0) -> LocalReadHandle:
        check_offset(offset)
        # Inline, like the handle's close: an open for reading is a few system calls on a local
        # disk, cheaper than a thread hop on every download (measured: +10% small files/s).
        try:
            return self._open_read(path, offset)
        except OSError as exc:
            raise translate_os_error(exc) from None

    def _digest(self, path: str, algorithm: str, start: int, end: int | None) -> str:
        hasher = new_digest(algorithm)
        fd, _ = open_regular(self._resolve(path, _RETR), os.O_RDONLY)
        with open(fd, "rb", buffering=0) as file:
            file.seek(start)
            remaining = None if end is None else end - start
            with memoryview(bytearray(_CHUNK)) as buf:
                while remaining is None or remaining > 0:
                    want = _CHUNK if remaining is None else min(_CHUNK, remaining)
                    n = file.readinto(buf[:want])
                    if not n:
                        break
                    hasher.update(buf[:n])
                    if remaining is not None:
                        remaining -= n
        return hasher.hexdigest()

    async def digest(
        self, path: str, algorithm: str, start: int = 0, end: int | None = None
    ) -> str:
        new_digest(algorithm)  # refuse an unknown algorithm before touching the disk
        check_range(start, end)
        check_offset(start)
        return await run_blocking(self._digest, path, algorithm, start, end)

    # --- writing (an upload's open and its target: ``Uploads``, pasv.storage.localupload) ---
    async def open_write(
        self,
        path: str,
        *,
        offset: int = 0,
        append: bool = False,
        exclusive: bool = False,
        mode: WriteMode = IN_PLACE,
        target: UploadTarget | None = None,
    ) -> LocalWriteHandle:
        check_offset(offset)
        return await run_blocking(self._open_write, path, offset, append, exclusive, mode, target)

    def _mkdir(self, path: str) -> None:
        if not split_virtual(path):
            raise AlreadyExists()
        os.mkdir(self._entry(path, _MKD, new=True), 0o777)

    async def mkdir(self, path: str) -> None:
        await run_blocking(self._mkdir, path)

    def _rmdir(self, path: str) -> None:
        os.rmdir(self._entry(path, _RMD))

    async def rmdir(self, path: str) -> None:
        await run_blocking(self._rmdir, path)

    def _delete(self, path: str) -> None:
        target = self._entry(path, _DELE)
        if st.S_ISDIR(os.lstat(target).st_mode):
            raise IsADirectory()
        os.unlink(target)

    async def delete(self, path: str) -> None:
        await run_blocking(self._delete, path)

    def _rename(self, src: str, dst: str, replace: bool) -> None:
        source, target = self._renaming(src, dst)
        try:
            if replace:
                os.rename(source, target)
            else:
                rename_no_replace(source, target)
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # the only EINVAL of rename(2) here
                raise into_itself() from exc
            raise

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> None:
        await run_blocking(self._rename, src, dst, replace)

    def _set_mtime(self, path: str, mtime: float) -> None:
        real = self._resolve(path, _TOUCH)
        os.utime(real, (os.stat(real).st_atime, mtime))

    async def set_mtime(self, path: str, mtime: float) -> None:
        await run_blocking(self._set_mtime, path, mtime)

    def _chmod(self, path: str, mode: int) -> None:
        os.chmod(self._resolve(path, _CHMOD), mode & 0o777)  # never setuid, setgid or sticky

    async def chmod(self, path: str, mode: int) -> None:
        await run_blocking(self._chmod, path, mode)

    # --- who uploaded a file: an extended attribute, so renames and links keep it -------------
    def _owner(self, path: str) -> str | None:
        try:
            return read_owner(self.identity(path))
        except FtpError:  # outside the jail: nobody's
            return None

    async def owner(self, path: str) -> str | None:
        return await run_blocking(self._owner, path)

    def _set_owner(self, path: str, user: str) -> None:
        with contextlib.suppress(FtpError):
            write_owner(self.identity(path), user)

    async def set_owner(self, path: str, user: str) -> None:
        await run_blocking(self._set_owner, path, user)
