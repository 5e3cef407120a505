"""This node's part in a cluster on PostgreSQL: heartbeats, admissions, upload locks, changes.

``Cluster`` is the server's side of ``accounts.cluster_store``: it runs the blocking calls in
threads, beats every third of the heartbeat time (publishing this node's sessions, with their
current transfer, and its connection count), listens for policy and account changes made on any
node, and turns an unreachable database into clear refusals (421 at login, 451 for an upload
lock) while running sessions carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pasv.accounts.cluster_store import (
    ClusterCounts,
    ClusterStore,
    Reaped,
    SessionBeat,
    parse_kick,
)
from pasv.accounts.sqlbase import StoreUnavailable
from pasv.protocol.errors import FtpError, LocalError, ServiceUnavailable
from pasv.server.language import say

if TYPE_CHECKING:  # psycopg is the postgres extra: not imported by a server without a cluster
    from pasv.accounts.postgres import PostgresAccountStore
    from pasv.server.app import FtpServer
    from pasv.server.session import Session

log = logging.getLogger("pasv.cluster")

__all__ = ["Cluster", "unavailable"]


def unavailable(exc: StoreUnavailable) -> ServiceUnavailable:
    """The 421 a new login gets while the database is away."""
    return ServiceUnavailable(say("cluster.unavailable", reason=str(exc)))


class Cluster:
    """One node: ``node`` is its name in the cluster tables (unique per serving process)."""

    def __init__(self, db: PostgresAccountStore, node: str, heartbeat: float) -> None:
        self.db = db
        # dead after two missed beats (2/3 of the heartbeat): another node's next beat, at most a
        # third later, releases its share, so all is free within `heartbeat` of its death
        self.store = ClusterStore(db, heartbeat * 2 / 3)
        self.node = node
        self.heartbeat = heartbeat
        self.address = ""
        self.others = 0  # connections on the other nodes, as of the last beat
        self.held: dict[str, int] = {}  # identity -> session id: this node's upload locks
        self._server: FtpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()

    # --- lifecycle -----------------------------------------------------------------------------
    async def start(self, server: FtpServer, address: str) -> None:
        self._server, self.address = server, address
        self.store.out_of_touch()  # heard nothing before it started: no node silent until a beat
        await asyncio.to_thread(self.store.join, self.node, address, os.getpid())
        self._tasks = [
            asyncio.ensure_future(self._beat()),
            asyncio.ensure_future(self.db.watch(self._changed, self._touch)),
        ]
        log.info("joined the cluster as node %s (heartbeat %.1fs)", self.node, self.heartbeat)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        with contextlib.suppress(StoreUnavailable):
            await asyncio.to_thread(self.store.leave, self.node)

    def _touch(self, reachable: bool, _reason: str) -> None:
        """The listening connection was lost: after an outage every node's heartbeat is old,
        and none of them may be given up for dead (its sessions and upload locks dropped)
        until this node has itself been in touch for the heartbeat's dead time."""
        if not reachable:
            self.store.out_of_touch()

    async def _changed(self, origin: str) -> None:
        """Policy, a ban or an account changed on some node: reload the policy now. A kick
        (the admin API of some node ending one of this node's sessions) is done here."""
        kick = parse_kick(origin)
        if kick is not None:
            if kick[0] == self.node and self._server is not None:
                from pasv.server.registry import kick_local

                kick_local(self._server, kick[1])
            return
        if self._server is not None and await self._server.gate.reload_async(origin):
            from pasv.server.standing import review

            await review(self._server)

    # --- heartbeat -----------------------------------------------------------------------------
    async def _beat(self) -> None:
        failing = False
        while True:
            try:
                self.others, reaped = await asyncio.to_thread(
                    self.store.beat,
                    self.node,
                    self.address,
                    os.getpid(),
                    len(self._server.sessions) if self._server is not None else 0,
                    self._sessions(),
                    list(self.held.items()),
                )
                if failing:
                    log.warning("heartbeat reaches the database again")
                failing = False
                self._report(reaped)
            except StoreUnavailable as exc:
                self.store.out_of_touch()
                if not failing:
                    log.warning("heartbeat failed: %s", exc)
                failing = True
            await asyncio.sleep(self.heartbeat / 3)  # the beat's period, not a synchronisation

    def _sessions(self) -> list[SessionBeat]:
        if self._server is None:
            return []
        beats = []
        for control in list(self._server.sessions):
            s = control.session
            if s.user is None or not s.counted:
                continue
            transfer = s.transfer
            beats.append(
                SessionBeat(
                    s.id,
                    s.user.name,
                    s.user.groups,
                    s.peer_ip,
                    s.started,
                    f"{transfer.verb} {transfer.path}" if transfer is not None else "",
                    transfer.status() if transfer is not None else "",
                )
            )
        return beats

    @staticmethod
    def _report(reaped: list[Reaped]) -> None:
        for gone in reaped:
            log.warning(
                "node %s stopped beating: released its %d session(s) and %d upload lock(s)",
                gone.node,
                gone.sessions,
                gone.locks,
            )

    # --- sessions ------------------------------------------------------------------------------
    async def admit(
        self, session: Session, user: str, groups: tuple[str, ...], check: Callable[..., None]
    ) -> None:
        """Count and register a login cluster-wide; ``check(counts)`` raises a refusal."""

        def counted(counts: ClusterCounts) -> None:
            check(counts)

        try:
            reaped = await asyncio.to_thread(
                self.store.admit,
                self.node,
                session.id,
                user,
                groups,
                session.peer_ip,
                session.started,
                counted,
            )
        except StoreUnavailable as exc:
            self.store.out_of_touch()
            raise unavailable(exc) from None
        self._report(reaped)

    def release(self, session_id: int) -> None:
        """Drop a session's row (a failure is mended by the next beat)."""
        self._later(self.store.release, self.node, session_id)

    # --- upload locks --------------------------------------------------------------------------
    async def claim(self, identity: str, session_id: int, busy: FtpError) -> None:
        """Take the cluster-wide lock of a file to be uploaded; ``busy`` when another node's
        session holds it; 451 while the database cannot be reached."""
        try:
            got = await asyncio.to_thread(self.store.claim, self.node, session_id, identity)
        except StoreUnavailable as exc:
            self.store.out_of_touch()
            raise LocalError(say("cluster.locks_unavailable", reason=str(exc))) from None
        if not got:
            raise busy
        self.held[identity] = session_id

    async def refuse_if_uploading(
        self, identity: str, busy: FtpError, *, into: bool = False
    ) -> None:
        """``busy`` when another node is uploading ``identity`` (``into``: a file directly in
        that directory); 451 while the database cannot be reached, as for an upload's lock."""
        try:
            held = await asyncio.to_thread(self.store.uploading, self.node, identity, into=into)
        except StoreUnavailable as exc:
            self.store.out_of_touch()
            raise LocalError(say("cluster.locks_unchecked", reason=str(exc))) from None
        if held:
            raise busy

    async def unclaim(self, identity: str) -> None:
        """Give the lock back before the upload's final reply goes out, so the other nodes
        may use the file as soon as the client hears 226 (a failure is mended by the next
        beat; a cancelled session still lets the release finish)."""
        if self.held.pop(identity, None) is not None:
            await asyncio.shield(self._later(self.store.unclaim, self.node, identity))

    def _later(self, call: Callable[..., None], *args: object) -> asyncio.Task[None]:
        async def run() -> None:
            try:
                await asyncio.to_thread(call, *args)
            except StoreUnavailable as exc:
                log.info("left for the next heartbeat to mend: %s", exc)

        task = asyncio.ensure_future(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task
