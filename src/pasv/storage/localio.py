"""The host file system's errors as our refusals, blocking calls off the event loop, safe opens."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat as st
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from pasv.protocol.errors import (
    AlreadyExists,
    ArgumentError,
    DirectoryNotEmpty,
    ExceededStorage,
    FileBusy,
    FileUnavailable,
    FtpError,
    InsufficientStorage,
    IsADirectory,
    LocalError,
    NameNotAllowed,
    NotADirectory,
    PathNotFound,
    PermissionDenied,
)

__all__ = [
    "check_offset",
    "open_regular",
    "read_owner",
    "run_blocking",
    "translate_os_error",
    "write_owner",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_MAX_OFFSET = (1 << 63) - 1
OPEN_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK

_ERRNO: dict[int, Callable[[], FtpError]] = {
    errno.ENOENT: PathNotFound,
    errno.EACCES: PermissionDenied,
    errno.EPERM: PermissionDenied,
    errno.ENOTDIR: NotADirectory,
    errno.EISDIR: IsADirectory,
    errno.EEXIST: AlreadyExists,
    errno.ENOTEMPTY: DirectoryNotEmpty,
    errno.ENOSPC: InsufficientStorage,
    errno.EDQUOT: ExceededStorage,
    errno.ENAMETOOLONG: lambda: NameNotAllowed("File name too long."),
    errno.EROFS: lambda: PermissionDenied("Read-only file system."),
    errno.ELOOP: lambda: FileUnavailable("Too many levels of symbolic links."),
    errno.EINVAL: lambda: FileUnavailable("Invalid argument."),
    errno.EBUSY: FileBusy,
    errno.EFBIG: lambda: ExceededStorage("File too large."),
    errno.ENXIO: lambda: FileUnavailable("Not a regular file."),
}


def translate_os_error(exc: OSError) -> FtpError:
    """Our refusal for an OSError; the text never carries a host path."""
    make = _ERRNO.get(exc.errno or 0)
    if make is not None:
        return make()
    return LocalError(f"{exc.strerror or 'Local error in processing'}.")


async def run_blocking(fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a blocking call in a worker thread, translating OS errors where they enter."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except OSError as exc:
        raise translate_os_error(exc) from exc
    except UnicodeEncodeError as exc:
        raise NameNotAllowed("File name cannot be encoded.") from exc
    except OverflowError as exc:
        raise ArgumentError("Value out of range.") from exc


def check_offset(offset: int) -> None:
    if not 0 <= offset <= _MAX_OFFSET:
        raise ArgumentError("Invalid restart position.")


def check_regular(s: os.stat_result) -> None:
    """Refuse what an upload or a download cannot be: a directory, a FIFO, a device."""
    if st.S_ISDIR(s.st_mode):
        raise IsADirectory()
    if not st.S_ISREG(s.st_mode):
        raise FileUnavailable("Not a regular file.")


def open_regular(real: str, flags: int) -> tuple[int, os.stat_result]:
    """Open without following a final symlink or blocking on a FIFO; refuse non-files."""
    fd = os.open(real, flags | OPEN_FLAGS, 0o666)
    try:
        s = os.fstat(fd)
        check_regular(s)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, s


_OWNER = "user.pasv.owner"  # the extended attribute naming who uploaded a file


def read_owner(real: str) -> str | None:
    """Who uploaded the file at the host path ``real`` (None: not noted, or a file system
    without user attributes); renames and hard links keep it, as it is the inode's."""
    try:
        value = os.getxattr(real, _OWNER, follow_symlinks=False)
    except OSError:
        return None
    return value.decode("utf-8", "replace") or None


def write_owner(real: str, user: str) -> None:
    """Note ``user`` as who uploaded ``real``; a file system that cannot keep it forgets."""
    with contextlib.suppress(OSError):
        os.setxattr(real, _OWNER, user.encode(), follow_symlinks=False)
