"""The local store's jail: virtual paths to host paths inside one root, and the symbolic links
on the way reported to the session's link guard (``pasv.storage.links``)."""

from __future__ import annotations

import os
import stat as st

from pasv.policy.models import Perm
from pasv.protocol.errors import NameNotAllowed, OutsideJail, PermissionDenied
from pasv.protocol.texts import said
from pasv.storage.base import split_virtual
from pasv.storage.links import LINKS
from pasv.storage.localwrite import TEMP_PREFIX, is_temporary

__all__ = ["Jail"]

_RESERVED = "Names beginning with {prefix} are reserved for uploads in progress."
_NONE, _RENAME = Perm.NONE, Perm.RENAME


class Jail:
    """Host paths below ``root`` for virtual paths; ``mounted_at`` is the virtual folder the
    root is seen at ("" for a home), so that the paths a link guard is told are the user's.

    A path is walked with one ``lstat`` per component below the root, which is what tells
    whether a symbolic link is on it: a path with none costs nothing more. One with a link
    that stays inside the root is checked by the session's guard (the place it leads to),
    before anything is done there; one that leads out of the root is refused, and so is any
    link on a path walked outside a session's command (``pasv.storage.links.UNGUARDED``)."""

    def __init__(self, root: str, mounted_at: str = "") -> None:
        self._root = root
        self._prefix = root if root.endswith(os.sep) else root + os.sep
        self._mount = mounted_at.rstrip("/")

    def _inside(self, real: str) -> bool:
        return real == self._root or real.startswith(self._prefix)

    def _real(self, parts: list[str]) -> tuple[str, bool]:
        """``realpath(root/parts)``, but lstat-ing only the components below the root, which is
        already real: one system call for a file in the root instead of one per host directory;
        and whether a symbolic link was crossed."""
        real, crossed, _ = self._walk(parts)
        return real, crossed

    def _walk(self, parts: list[str]) -> tuple[str, bool, os.stat_result | None]:
        """``_real``, and the lstat of the last component (None: missing, or the root)."""
        current, crossed, seen = self._root, False, None
        for index, part in enumerate(parts):
            candidate = os.path.join(current, part)
            try:
                seen = os.lstat(candidate)
            except OSError:  # missing (or unreadable): nothing below it can be a link
                return os.path.join(candidate, *parts[index + 1 :]), crossed, None
            if st.S_ISLNK(seen.st_mode):
                current, crossed = os.path.realpath(candidate), True
            else:
                current = candidate
        return current, crossed, seen

    @staticmethod
    def _parts(path: str) -> list[str]:
        """The path's components; the names of uploads in progress are nobody's to reach."""
        parts = split_virtual(path)
        if TEMP_PREFIX in path and any(is_temporary(part) for part in parts):
            raise NameNotAllowed(said("replies", "storage.reserved", _RESERVED, prefix=TEMP_PREFIX))
        return parts

    def _located(self, parts: list[str], *, follow: bool = True) -> tuple[str, bool]:
        """(host path, crossed a link): every link followed, or (not ``follow``) all but the
        final component's; refused when that leads out of the root."""
        if follow or not parts:
            real, crossed = self._real(parts)
            if not self._inside(real):
                raise OutsideJail()
            return real, crossed
        parent, crossed = self._real(parts[:-1])
        if not self._inside(parent):
            raise OutsideJail()
        return os.path.join(parent, parts[-1]), crossed

    def _resolve(self, path: str, perm: Perm = _NONE, *, new: bool = False) -> str:
        """Host path of ``path`` with every symlink resolved; must stay inside the root. An
        operation doing ``perm`` there has it checked at the place a link leads to (``new``:
        it makes that name); ``Perm.NONE``: only naming it (files-in-use locks)."""
        parts = self._parts(path)
        real, crossed = self._located(parts)
        if crossed and perm is not _NONE:
            self._through(perm, parts, real, new=new)
        return real

    def _entry(self, path: str, perm: Perm, *, new: bool = False) -> str:
        """Host path of the directory entry itself (a final symlink is not followed)."""
        parts = self._parts(path)
        if not parts:
            raise PermissionDenied("The root directory cannot be changed.")
        return self._entry_of(parts, perm, new=new)

    def _entry_of(self, parts: list[str], perm: Perm, *, new: bool = False) -> str:
        """``_entry`` of a path given by its (non-empty) components."""
        entry, crossed = self._located(parts, follow=False)
        if crossed:
            self._through(perm, parts, entry, new=new)
        return entry

    # --- what a link guard is told -----------------------------------------------------------
    def _virtual(self, real: str) -> str:
        """The virtual path of a host path inside the root."""
        inner = real[len(self._prefix) :] if real != self._root else ""
        return f"{self._mount}/{inner}" if inner else self._mount or "/"

    def _named(self, parts: list[str]) -> str:
        """The virtual path the client named, as components below the root."""
        return f"{self._mount}/{'/'.join(parts)}" if parts else self._mount or "/"

    def _through(self, perm: Perm, parts: list[str], real: str, *, new: bool = False) -> None:
        """``parts`` led through a link to ``real``: the session's guard decides (outside a
        session's command: refused, ``pasv.storage.links.UNGUARDED``)."""
        LINKS.get()(perm, self._named(parts), self._virtual(real), new=new)

    def _renaming(self, src: str, dst: str) -> tuple[str, str]:
        """The host entries a rename moves, each checked at the place a link leads to, and the
        move itself as the guard would judge it between those places."""
        src_parts, dst_parts = self._parts(src), self._parts(dst)
        if not src_parts or not dst_parts:
            raise PermissionDenied("The root directory cannot be changed.")
        source, src_crossed = self._located(src_parts, follow=False)
        target, dst_crossed = self._located(dst_parts, follow=False)
        if src_crossed:
            self._through(_RENAME, src_parts, source)
        if dst_crossed:
            self._through(_RENAME, dst_parts, target, new=True)
        if src_crossed or dst_crossed:
            directory = st.S_ISDIR(os.lstat(source).st_mode)
            LINKS.get().rename(
                self._named(src_parts), self._virtual(source),
                self._named(dst_parts), self._virtual(target), directory=directory,
            )  # fmt: skip
        return source, target
