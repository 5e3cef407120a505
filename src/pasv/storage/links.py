"""Symbolic links inside a storage's root: the hook a session gives the storage, so that a path
leading through a link is served only as far as the user may act at the place it leads to."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from pasv.policy.models import Perm
from pasv.protocol.errors import PermissionDenied
from pasv.protocol.listing import FileFacts
from pasv.protocol.texts import said

__all__ = ["LINKS", "UNGUARDED", "LinkGuard", "LinkedFacts", "Unguarded"]


class LinkGuard(Protocol):
    """Called by a storage, before it acts, when a path crossed a symbolic link that stays in
    the root; raises an ``FtpError`` to refuse. Paths are virtual ones of the whole tree
    (a virtual folder's name included). It may be called from a worker thread."""

    def __call__(self, perm: Perm, path: str, real: str, *, new: bool = False) -> None:
        """``path`` (as the client named it) leads to ``real``; the operation does ``perm``
        there (its flags that ``path`` allows must be allowed at ``real`` too); ``new``: it
        makes a name at ``real`` (upload, directory, rename target)."""
        ...

    def rename(
        self, source: str, real_source: str, target: str, real_target: str, *, directory: bool
    ) -> None:
        """A rename whose source or target crossed a link moves ``real_source`` to
        ``real_target``: refuse what that move could not do when named directly."""
        ...


_UNGUARDED = (
    "{path} leads through a symbolic link, and no session is here to check where it leads;"
    " nothing was done."
)


class Unguarded:
    """The guard of a storage call made outside any session's command (a task or thread the
    session's context did not reach): it fails closed, refusing every path through a link."""

    __slots__ = ()

    def __call__(self, perm: Perm, path: str, real: str, *, new: bool = False) -> None:
        raise PermissionDenied(said("replies", "storage.link_unguarded", _UNGUARDED, path=path))

    def rename(
        self, source: str, real_source: str, target: str, real_target: str, *, directory: bool
    ) -> None:
        self(Perm.RENAME, source, real_source)


UNGUARDED = Unguarded()

# The guard of the session whose command runs in this context (set by the session, read by
# the storage): no argument of every storage call. A caller without a session gets UNGUARDED,
# never a walk through links that nobody checks; a tool that trusts every link in a root
# sets a guard that allows them.
LINKS: ContextVar[LinkGuard] = ContextVar("pasv_storage_links", default=UNGUARDED)


@dataclass(frozen=True, slots=True)
class LinkedFacts(FileFacts):
    """A listing's entry that is a symbolic link to ``target`` (a virtual path in the root),
    described by what it points to; the session decides whether the user sees it."""

    target: str = "/"
