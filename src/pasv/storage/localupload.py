"""The local store's uploads opened: the target found (the walk the files-in-use lock was taken
on, carried in the upload's ``LocalTarget``, when it can be gone by, else one made now) and
opened in place or atomically; the handles that write them are ``pasv.storage.localwrite``'s
and ``pasv.storage.localatomic``'s."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pasv.policy.models import Perm
from pasv.protocol.errors import FtpError, OutsideJail, PermissionDenied
from pasv.storage.base import UploadTarget, WriteMode, check_resume
from pasv.storage.localatomic import open_atomic
from pasv.storage.localio import open_regular
from pasv.storage.localjail import Jail
from pasv.storage.localwrite import LocalWriteHandle, RawFile, open_target

__all__ = ["LocalTarget", "Uploads"]

# read once: an enum member read through its class is slow on Python 3.11
_STOR, _APPE, _RESUME = Perm.STOR, Perm.APPE, Perm.STOR | Perm.APPE


@dataclass(frozen=True, slots=True)
class LocalTarget(UploadTarget):
    """An upload's target as ``upload_target``'s walk found it: a file (``seen``) at the host
    path ``identity``, reached through no link, by the store ``jail``. Its open goes by it,
    if it opens that very file (``_open_seen``), instead of walking the path again."""

    seen: os.stat_result
    jail: Jail


def _open_seen(real: str, seen: os.stat_result, flags: int) -> tuple[int, os.stat_result] | None:
    """Open the upload's file ``seen`` (by an earlier walk) at ``real``, as it is; None when
    ``real`` is no longer that file (renamed, replaced, a link on the way since): nothing was
    made or changed, and the caller walks the path again."""
    try:
        fd, opened = open_regular(real, flags)
    except (OSError, FtpError):  # the walk made now says what is wrong there
        return None
    if (opened.st_dev, opened.st_ino) == (seen.st_dev, seen.st_ino):
        return fd, opened
    os.close(fd)
    return None


class Uploads(Jail):
    """A jail that opens uploads: ``upload_target`` (the path the files-in-use lock is taken
    on) and ``_open_write`` (in a thread), which goes by that walk when it may.

    ``unnamed``: atomic uploads use O_TMPFILE where the file system has it."""

    def __init__(self, root: str, mounted_at: str = "", *, unnamed: bool = True) -> None:
        super().__init__(root, mounted_at)
        self._unnamed = unnamed

    def _open_write(
        self,
        path: str,
        offset: int,
        append: bool,
        exclusive: bool,
        mode: WriteMode,
        target: UploadTarget | None = None,
    ) -> LocalWriteHandle:
        perm = _APPE if append else _RESUME if offset else _STOR
        if mode.atomic:
            parent, name = os.path.split(self._resolve(path, perm, new=True))
            if not name or not self._inside(parent):
                raise PermissionDenied("The root directory cannot be changed.")
            return open_atomic(
                parent,
                name,
                offset=offset,
                append=append,
                exclusive=exclusive,
                mode=mode,
                unnamed=self._unnamed,
            )
        resumed = bool(offset) and not append
        flags = os.O_WRONLY | os.O_APPEND if append else os.O_WRONLY
        seen = None if exclusive else self._seen(path, target)
        early = _open_seen(*seen, flags) if seen is not None else None
        if seen is not None and early is not None:
            real, (fd, opened), created = seen[0], early, False
        else:  # no walk to go by, or not the file it saw: walk now
            real, found = self._target(path, perm)  # outside the try: not a resume's refusal
            try:
                fd, opened, created = open_target(
                    real, flags, create=not resumed, new=exclusive and not resumed, found=found
                )
            except FileNotFoundError:
                if resumed and os.path.isdir(os.path.dirname(real)):  # no file, not no dir
                    check_resume(offset, 0)
                raise
        file = RawFile(fd)  # not open(fd): its FileIO would fstat the file a second time
        try:
            if resumed:
                check_resume(offset, opened.st_size)
                os.lseek(fd, offset, os.SEEK_SET)
        except BaseException:
            file.close()
            raise
        # REST n + STOR: the file becomes its first n bytes and what comes (as an atomic
        # resume makes it); a STOR: what comes. Cut at ``begin``, once the data connection is up.
        cut = None if append or created else offset
        kept = opened.st_size if append and not created else offset if resumed else None
        undo = (real, kept)
        return LocalWriteHandle(file, mode, undo, cut=cut, created=created, append=append)

    def identity(self, path: str) -> str:
        """The host path (every link followed), which the files-in-use lock is taken on."""
        return self._located(self._parts(path))[0]

    def upload_target(self, path: str) -> UploadTarget:
        """``identity`` for an upload, taken just before its open; when the walk crossed no
        link and found a file, a ``LocalTarget`` the open goes by instead of walking again
        (one ``lstat`` per component)."""
        real, crossed, seen = self._walk(self._parts(path))
        if not self._inside(real):
            raise OutsideJail()
        if seen is None or crossed:
            return UploadTarget(path, real)
        return LocalTarget(path, real, seen, self)

    def _seen(self, path: str, target: UploadTarget | None) -> tuple[str, os.stat_result] | None:
        """The host path and the file ``target``'s walk found there, when it is this store's
        walk of ``path`` that crossed no link. An open may go by it without a walk of its own
        as long as it opens that very file (``_open_seen``)."""
        if isinstance(target, LocalTarget) and target.jail is self and target.path == path:
            return target.identity, target.seen
        return None

    def _target(self, path: str, perm: Perm) -> tuple[str, bool | None]:
        """The host path an upload opens, walked now (links on it put to the link guard), and
        whether a file is there (None: not known, a link was followed)."""
        parts = self._parts(path)
        real, crossed, seen = self._walk(parts)
        if not self._inside(real):
            raise OutsideJail()
        if crossed:
            self._through(perm, parts, real, new=True)
        return real, None if crossed else seen is not None
