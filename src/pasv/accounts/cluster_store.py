"""The cluster's shared state in PostgreSQL: nodes and heartbeats, live sessions, upload locks.

Admissions run in one transaction under an advisory lock, so two nodes never both count the
same free place; a node silent for longer than the heartbeat time is deleted (and with it, by
ON DELETE CASCADE, its sessions and locks) by the next admission, lock claim or heartbeat of
any other node. Times are the database's own clock (``now()``), so nodes' clocks may differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pasv.accounts.sqlbase import CHANNEL, Tx

if TYPE_CHECKING:  # psycopg is the postgres extra: imported only where a cluster is configured
    from pasv.accounts.postgres import PostgresAccountStore

__all__ = [
    "ClusterCounts",
    "ClusterStore",
    "LiveSession",
    "NodeInfo",
    "Reaped",
    "kick_payload",
    "parse_kick",
]

_ADMISSION_LOCK = 0x70617377  # pg_advisory_xact_lock key: one admission at a time, cluster-wide
_SEP = "\x1f"  # between group names in one text (group names never hold control characters)


@dataclass(frozen=True, slots=True)
class ClusterCounts:
    """Sessions logged in on live nodes (the one being admitted not included)."""

    total: int
    same_ip: int
    same_user: int
    groups: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveSession:
    """One row of the live-session table (``command``/``transfer`` as of the last beat)."""

    node: str
    session: int
    user: str
    groups: tuple[str, ...]
    address: str
    since: datetime
    command: str
    transfer: str


@dataclass(frozen=True, slots=True)
class NodeInfo:
    id: str
    address: str
    pid: int
    started: datetime
    heartbeat: datetime
    connections: int


@dataclass(frozen=True, slots=True)
class Reaped:
    """A node given up for dead, and what it held."""

    node: str
    sessions: int
    locks: int


@dataclass(frozen=True, slots=True)
class SessionBeat:
    """What a node reports of one of its sessions at each heartbeat."""

    session: int
    user: str
    groups: tuple[str, ...]
    address: str
    since: float  # epoch seconds
    command: str
    transfer: str


KICK = "kick "  # a notification's payload "kick <node> <session>": end that session


def kick_payload(node: str, session: int) -> str:
    return f"{KICK}{node} {session}"


def parse_kick(payload: str) -> tuple[str, int] | None:
    """``(node, session)`` of a kick notification, None for any other payload."""
    if not payload.startswith(KICK):
        return None
    node, _, number = payload[len(KICK) :].rpartition(" ")
    return (node, int(number)) if node and number.isdigit() else None


# a node is silent when it has not beaten for `dead_after` seconds of a time the asking process
# was itself in touch with the database (``heard_since``): an outage silences every node alike
_SILENT = "greatest(n.heartbeat, ?::timestamptz) < now() - make_interval(secs => ?)"
_NEVER = "infinity"  # ``heard_since`` while the asking process is out of touch: nobody is silent


def _reap(tx: Tx, silence: tuple[object, float], me: str) -> list[Reaped]:
    rows = tx.execute(
        "SELECT n.id, (SELECT count(*) FROM sessions s WHERE s.node = n.id),"
        " (SELECT count(*) FROM file_locks l WHERE l.node = n.id)"
        f" FROM nodes n WHERE n.id <> ? AND {_SILENT} FOR UPDATE SKIP LOCKED",
        (me, *silence),
    ).fetchall()
    if rows:
        tx.execute("DELETE FROM nodes WHERE id = ANY(?)", ([row[0] for row in rows],))
    return [Reaped(node, int(sessions), int(locks)) for node, sessions, locks in rows]


class ClusterStore:
    """Blocking calls (run them in a thread) on the PostgreSQL account store's pool."""

    def __init__(self, db: PostgresAccountStore, dead_after: float) -> None:
        self.db = db
        self.dead_after = dead_after
        # since when (the database's clock) this process has been in unbroken touch with the
        # database; None: judge by the heartbeats alone (the CLI, the admin API's reads)
        self.heard_since: datetime | str | None = None
        self._losses = 0  # counted by out_of_touch: a beat running across a loss hears nothing

    def out_of_touch(self) -> None:
        """This process lost the database (or has only just started): until its next beat
        gets through, no node counts as silent, since each of them may have been as cut off
        as this one; from that beat on, silences are counted from the beat's time."""
        self._losses += 1
        self.heard_since = _NEVER

    @property
    def _silence(self) -> tuple[object, float]:
        return self.heard_since, self.dead_after

    # --- nodes ---------------------------------------------------------------------------------
    def join(self, node: str, address: str, pid: int) -> None:
        """Register (or, after a restart under the same name, renew) this node: sessions and
        locks an earlier run of it left are gone with that run."""

        def work(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO nodes (id, address, pid) VALUES (?, ?, ?) ON CONFLICT (id) DO"
                " UPDATE SET address = excluded.address, pid = excluded.pid, started = now(),"
                " heartbeat = now(), connections = 0",
                (node, address, pid),
            )
            tx.execute("DELETE FROM sessions WHERE node = ?", (node,))
            tx.execute("DELETE FROM file_locks WHERE node = ?", (node,))

        self.db.run(work, notify=False)

    def leave(self, node: str) -> None:
        self.db.run(lambda tx: tx.execute("DELETE FROM nodes WHERE id = ?", (node,)), notify=False)

    def beat(
        self,
        node: str,
        address: str,
        pid: int,
        connections: int,
        sessions: Sequence[SessionBeat],
        locks: Sequence[tuple[str, int]],
    ) -> tuple[int, list[Reaped]]:
        """Renew this node and bring its rows in line with what it really holds (rows a lost
        release left behind are dropped; rows lost while this node was given up for dead come
        back); give up silent nodes. Returns the other nodes' connections and what was reaped."""

        losses = self._losses

        def work(tx: Tx) -> tuple[int, list[Reaped], datetime]:
            renewed = tx.execute(
                "UPDATE nodes SET heartbeat = now(), connections = ? WHERE id = ?",
                (connections, node),
            ).rowcount
            if not renewed:
                tx.execute(
                    "INSERT INTO nodes (id, address, pid, connections) VALUES (?, ?, ?, ?)",
                    (node, address, pid, connections),
                )
            ids = [s.session for s in sessions]
            tx.execute(
                "DELETE FROM sessions WHERE node = ? AND NOT (session = ANY(?))", (node, ids)
            )
            if sessions and renewed:  # news of the sessions this node has: their transfers
                tx.execute(
                    "UPDATE sessions SET command = d.c, transfer = d.x FROM unnest(?::bigint[],"
                    " ?::text[], ?::text[]) AS d(s, c, x) WHERE node = ? AND session = d.s",
                    (ids, [s.command for s in sessions], [s.transfer for s in sessions], node),
                )
            elif sessions:  # this node was given up for dead meanwhile: its rows come back
                tx.execute(
                    'INSERT INTO sessions (node, session, "user", groups, address, since,'
                    " command, transfer) SELECT ?, d.s, d.u, string_to_array(d.g, ?), d.a,"
                    " to_timestamp(d.t), d.c, d.x FROM unnest(?::bigint[], ?::text[],"
                    " ?::text[], ?::text[], ?::float8[], ?::text[], ?::text[])"
                    " AS d(s, u, g, a, t, c, x) ON CONFLICT (node, session) DO NOTHING",
                    (
                        node,
                        _SEP,
                        ids,
                        [s.user for s in sessions],
                        [_SEP.join(s.groups) for s in sessions],
                        [s.address for s in sessions],
                        [s.since for s in sessions],
                        [s.command for s in sessions],
                        [s.transfer for s in sessions],
                    ),
                )
            held = [identity for identity, _ in locks]
            tx.execute(
                "DELETE FROM file_locks WHERE node = ? AND NOT (identity = ANY(?))", (node, held)
            )
            for identity, session in locks:
                tx.execute(
                    "INSERT INTO file_locks (identity, node, session, directory)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (identity, node, session, os.path.dirname(identity)),
                )
            reaped = _reap(tx, self._silence, node)
            others = tx.execute(
                "SELECT coalesce(sum(connections), 0), now() FROM nodes WHERE id <> ?", (node,)
            ).fetchone()
            return int(others[0]), reaped, others[1]

        others, reaped, at = self.db.run(work, notify=False)
        if self.heard_since == _NEVER and self._losses == losses:  # no loss meanwhile
            self.heard_since = at
        return others, reaped

    # --- sessions ------------------------------------------------------------------------------
    def admit(
        self,
        node: str,
        session: int,
        user: str,
        groups: Sequence[str],
        address: str,
        since: float,
        check: Callable[[ClusterCounts], None] | None,
    ) -> list[Reaped]:
        """Count the live sessions like this one, let ``check`` refuse (it raises), then add
        this session's row, all in one transaction under the cluster-wide admission lock.
        ``check`` None: nothing to count, the row is only registered (no lock taken)."""

        def work(tx: Tx) -> list[Reaped]:
            reaped: list[Reaped] = []
            if check is not None:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_ADMISSION_LOCK,))
                reaped = _reap(tx, self._silence, node)
                row = tx.execute(
                    "SELECT count(*), count(*) FILTER (WHERE address = ?),"
                    ' count(*) FILTER (WHERE "user" = ?) FROM sessions'
                    " WHERE NOT (node = ? AND session = ?)",
                    (address, user, node, session),
                ).fetchone()
                per_group = dict(
                    tx.execute(
                        "SELECT g, count(*) FROM sessions, unnest(groups) AS g"
                        " WHERE g = ANY(?) AND NOT (node = ? AND session = ?) GROUP BY g",
                        (list(groups), node, session),
                    ).fetchall()
                )
                check(
                    ClusterCounts(
                        int(row[0]),
                        int(row[1]),
                        int(row[2]),
                        {g: int(per_group.get(g, 0)) for g in groups},
                    )
                )
            tx.execute(
                'INSERT INTO sessions (node, session, "user", groups, address, since)'
                " VALUES (?, ?, ?, ?, ?, to_timestamp(?)) ON CONFLICT (node, session) DO UPDATE"
                ' SET "user" = excluded."user", groups = excluded.groups, since = excluded.since',
                (node, session, user, list(groups), address, since),
            )
            return reaped

        return self.db.run(work, notify=False)

    def release(self, node: str, session: int) -> None:
        self.db.run(
            lambda tx: tx.execute(
                "DELETE FROM sessions WHERE node = ? AND session = ?", (node, session)
            ),
            notify=False,
        )

    def sessions(self) -> list[LiveSession]:
        """Every node's live sessions (for the admin API and `pasv cluster sessions`)."""
        rows = self.db.read(
            'SELECT node, session, "user", groups, address, since, command, transfer'
            " FROM sessions ORDER BY node, session"
        )
        return [LiveSession(n, int(s), u, tuple(g), a, t, c, x) for n, s, u, g, a, t, c, x in rows]

    def kick(self, node: str, session: int) -> bool:
        """Ask ``node`` to end its session ``session`` (a notification on the channel every
        node listens to, sent when the transaction commits); False when no live node (one
        that beat within the heartbeat time) holds that session."""

        def work(tx: Tx) -> bool:
            row = tx.execute(
                "SELECT 1 FROM sessions s JOIN nodes n ON n.id = s.node WHERE s.node = ? AND"
                f" s.session = ? AND NOT {_SILENT}",
                (node, session, *self._silence),
            ).fetchone()
            if row is None:
                return False
            tx.execute("SELECT pg_notify(?, ?)", (CHANNEL, kick_payload(node, session)))
            return True

        return self.db.run(work, notify=False)

    def nodes(self) -> list[NodeInfo]:
        rows = self.db.read(
            "SELECT id, address, pid, started, heartbeat, connections FROM nodes ORDER BY id"
        )
        return [NodeInfo(*row) for row in rows]

    # --- files being uploaded ------------------------------------------------------------------
    def claim(self, node: str, session: int, identity: str) -> bool:
        """Take ``identity`` for an upload; False while a live node's session holds it."""

        def work(tx: Tx) -> bool:
            holder = tx.execute(
                "SELECT n.id FROM file_locks l JOIN nodes n ON n.id = l.node WHERE"
                f" l.identity = ? AND {_SILENT}",
                (identity, *self._silence),
            ).fetchone()
            if holder is not None:  # held by a node that stopped beating: that node is gone
                _reap(tx, self._silence, node)
            return bool(
                tx.execute(
                    "INSERT INTO file_locks (identity, node, session, directory)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (identity, node, session, os.path.dirname(identity)),
                ).rowcount
            )

        return self.db.run(work, notify=False)

    def uploading(self, node: str, identity: str, *, into: bool = False) -> bool:
        """Is ``identity`` (``into``: a file directly in the directory ``identity``) being
        uploaded by another live node? One indexed look-up; a silent node's rows do not count."""
        column = "directory" if into else "identity"
        row = self.db.run(
            lambda tx: tx.execute(
                f"SELECT 1 FROM file_locks l JOIN nodes n ON n.id = l.node WHERE l.{column} = ?"
                f" AND l.node <> ? AND NOT {_SILENT} LIMIT 1",
                (identity, node, *self._silence),
            ).fetchone(),
            notify=False,
        )
        return row is not None

    def unclaim(self, node: str, identity: str) -> None:
        self.db.run(
            lambda tx: tx.execute(
                "DELETE FROM file_locks WHERE identity = ? AND node = ?", (identity, node)
            ),
            notify=False,
        )
