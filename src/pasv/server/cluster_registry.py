"""The live sessions of every node of a cluster (PostgreSQL), as the admin API reads them.

This machine's sessions come live from ``LocalRegistry`` (its own process and the board of its
workers); the other nodes' from the cluster's session table, as of their last heartbeat. A kick
of another node's session is a notification on the channel every node listens to, sent only
when a live node holds that session; the owning node ends it when the notification arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pasv.accounts.cluster_store import ClusterStore
from pasv.accounts.cluster_store import LiveSession as SessionRow
from pasv.accounts.sqlbase import StoreUnavailable
from pasv.server.registry import LiveSession, LocalRegistry, NoSuchSession, split_id

__all__ = ["ClusterRegistry", "from_row"]


def from_row(row: SessionRow) -> LiveSession:
    """A session of another node as its table row shows it: what the row does not hold (the
    client's port, TLS, the transfer's bytes and rate) is left empty; the current transfer is
    in ``command`` (e.g. ``RETR /big.bin``)."""
    return LiveSession(
        id=f"{row.node}:0:{row.session}",
        node=row.node,
        worker=0,
        user=row.user,
        address=row.address,
        port=0,
        since=row.since.timestamp(),
        command=(row.command or "")[:200],
        tls=False,
        transfer=None,
    )


class ClusterRegistry:
    """Every node's sessions: ``local`` for this machine's (whose node names are ``mine``),
    ``store`` for the other nodes'."""

    def __init__(self, local: LocalRegistry, store: ClusterStore, mine: Iterable[str]) -> None:
        self.local, self.store, self.mine = local, store, frozenset(mine)

    async def sessions(self) -> list[LiveSession]:
        own = await self.local.sessions()
        try:
            rows = await asyncio.to_thread(self.store.sessions)
        except StoreUnavailable:  # the database is away: this machine's sessions still show
            rows = []
        others = [from_row(row) for row in rows if row.node not in self.mine]
        return sorted(own + others, key=lambda s: (s.since, s.id))

    async def transfers(self) -> list[LiveSession]:
        """This machine's (another node's row holds no transfer's bytes)."""
        return await self.local.transfers()

    async def kick(self, session_id: str) -> bool:
        node, worker, number = split_id(session_id)
        if node in self.mine or worker < 0:
            return await self.local.kick(session_id)
        try:
            sent = await asyncio.to_thread(self.store.kick, node, number)
        except StoreUnavailable as exc:
            raise NoSuchSession(f"cannot reach node {node!r} through the database: {exc}") from None
        if not sent:
            raise NoSuchSession(
                f"no live session {session_id!r}: node {node!r} has no such session, or is not"
                " in the cluster (never joined, left, or stopped beating)"
            )
        return True
