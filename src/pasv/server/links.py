"""A session's link guard: a path that leads through a symbolic link to another place in the
root is served only when the user may do the same at that place (rules, hidden names,
forbidden names), and a listing shows a link only to a user who may list where it leads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.errors import (
    FtpError,
    LocalError,
    PathNotFound,
    PermissionDenied,
    ProhibitedName,
)
from pasv.protocol.listing import FileFacts
from pasv.server.language import say
from pasv.storage.links import LinkedFacts

if TYPE_CHECKING:
    from pasv.server.session import Session

__all__ = ["SessionLinks"]

_WAIT = 30.0  # seconds a worker thread waits for the event loop to decide (it is not busy)
_LIST = Perm.LIST


class SessionLinks:
    """The ``LinkGuard`` of one session (``pasv.storage.links``). The policy is asked on the
    event loop's thread only: a storage call that runs in a worker thread hands its question
    over and waits for the answer (only when a link was crossed)."""

    __slots__ = ("_loop", "_session", "_thread", "_through_dir")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        # the last path looked at or listed through a link, and where it led (for ``listed``)
        self._through_dir: tuple[str, str] | None = None

    def __call__(self, perm: Perm, path: str, real: str, *, new: bool = False) -> None:
        self._on_loop(lambda: self._check(perm, path, real, new), path)

    def rename(
        self, source: str, real_source: str, target: str, real_target: str, *, directory: bool
    ) -> None:
        def check() -> None:
            try:
                self._session.access.check_rename(real_source, real_target, directory=directory)
            except FtpError as exc:  # its text names the places the links lead to
                raise type(exc)(say("links.rename", source=source, target=target)) from None

        self._on_loop(check, source)

    def _on_loop(self, check: Callable[[], None], path: str) -> None:
        if threading.get_ident() == self._thread:
            check()
            return
        answer: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                check()
            except BaseException as exc:  # handed to the waiting thread
                answer.set_exception(exc)
            else:
                answer.set_result(None)

        self._loop.call_soon_threadsafe(run)
        try:
            answer.result(_WAIT)
        except TimeoutError:
            raise LocalError(say("links.unchecked", path=path)) from None

    def _check(self, perm: Perm, path: str, real: str, new: bool) -> None:
        access = self._session.access
        if perm is _LIST:
            self._through_dir = (path, real)
        try:
            access.check_reachable(real)
        except PathNotFound:  # a hidden name there: as missing as it is when named directly
            raise PathNotFound(say("access.hidden", path=path)) from None
        for flag in perm:
            if access.decide(flag, path).allowed and not access.decide(flag, real).allowed:
                raise PermissionDenied(say("links.denied", path=path, perm=flag.describe()))
        if new:
            try:
                access.check_name(real)
            except ProhibitedName:
                raise ProhibitedName(say("links.prohibited", name=paths.basename(path))) from None

    def listed(self, entries: list[FileFacts], directory: str) -> tuple[list[FileFacts], bool]:
        """The entries of ``directory`` a listing shows this user: a link (inside the root) only
        when the user may LIST where it leads and no name there is hidden; a directory reached
        through a link shows what the listing filter of the place it leads to lets through too
        (hide_denied, hidden names). And whether the directory was reached through a link or
        holds one: such a listing depends on who asks (another user's filter there may differ
        even where none applies to this one), so it is not shared in the listing cache."""
        access = self._session.access
        seen, self._through_dir = self._through_dir, None
        through = seen is not None and seen[0] == directory
        if not through and not any(type(entry) is LinkedFacts for entry in entries):
            return entries, False
        there = access.entry_filter(seen[1]) if seen is not None and through else None

        def shown(entry: FileFacts) -> bool:
            if there is not None and not there(entry.name):
                return False
            if not isinstance(entry, LinkedFacts):
                return True
            target = entry.target
            try:
                access.check_reachable(target)
            except PathNotFound:
                return False
            return access.decide(_LIST, target).allowed

        return [entry for entry in entries if shown(entry)], True
