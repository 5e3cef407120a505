"""A rename that never replaces what is at the target: ``renameat2(RENAME_NOREPLACE)`` where
the C library and the file system have it, else a hard link and an unlink for a file."""

from __future__ import annotations

import ctypes
import errno
import os
import stat as st
from collections.abc import Callable

__all__ = ["atomic_no_replace", "rename_no_replace"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# the file system cannot make a hard link here (vfat, some FUSE ones; EPERM: protected_hardlinks)
_NO_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK})

_Renameat2 = Callable[[int, bytes, int, bytes, int], int]


def _load() -> _Renameat2 | None:
    """glibc's renameat2 (2.28 and later; musl has it too), or None."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    path, fd = ctypes.c_char_p, ctypes.c_int
    function.argtypes = [fd, path, fd, path, ctypes.c_uint]
    function.restype = ctypes.c_int
    found: _Renameat2 = function
    return found


_renameat2 = _load()


def atomic_no_replace() -> bool:
    """Whether this machine's C library has renameat2 (the file system must take its flag)."""
    return _renameat2 is not None


def rename_no_replace(source: str, target: str) -> None:
    """Move the host entry ``source`` to ``target`` only where nothing is at ``target``
    (``FileExistsError`` otherwise, and nothing changed). One system call where the kernel and
    the file system take RENAME_NOREPLACE (ext4, xfs, btrfs, tmpfs); else, for a file, a hard
    link (which never replaces) and the unlink of the old name, also without a window. Only a
    directory where the flag is not taken is checked first and renamed after: an empty
    directory made at ``target`` in between is replaced (rename(2) replaces no other)."""
    renameat2 = _renameat2
    if renameat2 is not None:
        flags = _RENAME_NOREPLACE
        if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
            return
        code = ctypes.get_errno()
        # EINVAL is also the answer of a file system that does not take the flag
        if code not in (errno.ENOSYS, errno.EINVAL) or target.startswith(source + os.sep):
            raise OSError(code, os.strerror(code), source, None, target)
    _without_flag(source, target)


def _without_flag(source: str, target: str) -> None:
    if not st.S_ISDIR(os.lstat(source).st_mode):
        try:
            os.link(source, target, follow_symlinks=False)  # a link is linked, not followed
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise  # EEXIST: something is there
        else:
            try:
                os.unlink(source)
            except BaseException:
                os.unlink(target)  # as it was: one name
                raise
            return
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    os.rename(source, target)
