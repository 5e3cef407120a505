"""The live session registry as the admin API reads it: a small protocol and the local one.

The admin side depends on ``SessionRegistry`` only. ``LocalRegistry`` answers for this machine:
the sessions of its own process read live, those of the other worker processes from the shared
``SessionBoard``. In cluster mode ``cluster_registry.ClusterRegistry`` adds the other nodes'
sessions from the cluster's session table.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pasv.policy.models import Ban
from pasv.protocol.codes import ReplyCode
from pasv.protocol.parser import Command
from pasv.protocol.replies import make_reply

if TYPE_CHECKING:
    from pasv.server.app import FtpServer
    from pasv.server.board import SessionBoard
    from pasv.server.control import ControlProtocol

KICKED = "Your session was ended by the administrator."


class NoSuchSession(LookupError):
    """A kick found no live session of that id; the text says why (the API answers 404)."""


@dataclass(frozen=True, slots=True)
class LiveTransfer:
    """A transfer running now: ``direction`` is ``"upload"`` or ``"download"``."""

    command: str
    direction: str
    path: str
    bytes: int
    seconds: float
    rate: float  # bytes per second since the transfer started


@dataclass(frozen=True, slots=True)
class LiveSession:
    """One control connection as an operator sees it."""

    id: str  # "<node>:<worker>:<number>", unique while the session lives
    node: str
    worker: int
    user: str | None
    address: str
    port: int
    since: float  # wall-clock seconds
    command: str  # the last command received, PASS censored
    tls: bool
    transfer: LiveTransfer | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LiveSession:
        transfer = data.get("transfer")
        return cls(**{**data, "transfer": LiveTransfer(**transfer) if transfer else None})


@runtime_checkable
class SessionRegistry(Protocol):
    """What the admin API needs of the live sessions (of one process, a machine, a cluster)."""

    async def sessions(self) -> list[LiveSession]: ...

    async def transfers(self) -> list[LiveSession]:
        """The sessions with a transfer running (what the throughput chart samples), without
        asking every worker to describe every session."""
        ...

    async def kick(self, session_id: str) -> bool:
        """End the session (421 to its client); False when no such session is live."""
        ...


@runtime_checkable
class BanBook(Protocol):
    """Where bans are kept, as management reads and changes them. ``PolicyStore`` is the one of
    a single machine (every worker reloads the bans from it within a second); a cluster store
    implements the same three methods over its shared table."""

    def bans(self, now: float | None = None) -> dict[str, Ban]: ...

    def ban(self, ip: str, seconds: float, reason: str, offences: int = 1) -> Ban: ...

    def lift(self, ip: str) -> bool: ...


def describe(control: ControlProtocol, node: str, worker: int, now: float) -> LiveSession:
    """A snapshot of one connection."""
    session = control.session
    last = session.last_command
    if isinstance(last, Command):
        command = "PASS ****" if last.name == "PASS" else f"{last.name} {last.arg}".rstrip()
    else:
        command = ""
    transfer = session.transfer
    live_transfer = None
    if transfer is not None:
        seconds = max(0.0, time.monotonic() - transfer.started)
        live_transfer = LiveTransfer(
            transfer.verb,
            "upload" if transfer.direction == "i" else "download",
            transfer.path,
            transfer.done,
            round(seconds, 3),
            round(transfer.done / seconds, 1) if seconds > 0 else 0.0,
        )
    return LiveSession(
        id=f"{node}:{worker}:{session.id}",
        node=node,
        worker=worker,
        user=session.user.name if session.user is not None else None,
        address=session.peer_ip,
        port=session.peer_port,
        since=session.started,
        command=command[:200],
        tls=control.encrypted,
        transfer=live_transfer,
    )


def kick_local(server: FtpServer, number: int) -> bool:
    """End session ``number`` of this process."""
    for control in list(server.sessions):
        if control.session.id == number and not control.closing:
            end_session(server, control, KICKED, "kicked")
            return True
    return False


def end_session(server: FtpServer, control: ControlProtocol, reason: str, kind: str) -> None:
    """Close one session with 421 and ``reason``; a running transfer is aborted with it (426)
    first. The session log records ``kind`` (kicked, ended)."""
    if control.session.transfer is not None:
        control.session.transfer.abort(reason)
    control.send(make_reply(ReplyCode.SERVICE_UNAVAILABLE, reason))
    control.close()
    server.sessionlog.record(kind, control.session.peer_ip, control.session.who, 421, str(reason))


_PUBLISH_WAIT = 2.0  # seconds: a reaper turns about once a second


def _published(now: tuple[int, bool], before: tuple[int, bool]) -> bool:
    """Whether a worker's list was written anew since ``before``, whole (every session, not
    only those transferring), and is not being written."""
    sequence, everything = now
    return sequence != before[0] and sequence % 2 == 0 and everything


def split_id(session_id: str) -> tuple[str, int, int]:
    """``(node, worker, number)`` of ``node:worker:number`` (a node name may hold colons);
    worker and number -1 when the id is not of that form."""
    parts = session_id.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return session_id, -1, -1
    return parts[0], int(parts[1]), int(parts[2])


class LocalRegistry:
    """This machine's sessions: this process's live, the other workers' from the board."""

    def __init__(self, server: FtpServer, board: SessionBoard | None, node: str = "local") -> None:
        self.server, self.board, self.node = server, board, node

    @property
    def worker(self) -> int:
        return self.server.shared.index

    async def _fresh(self) -> None:
        """Make the other workers publish, and wait for their lists if they had stopped
        (nobody was watching): each publishes at its reaper's next turn, within about a
        second; one that does not (stuck) is waited for ``_PUBLISH_WAIT`` seconds at most."""
        board = self.board
        assert board is not None
        if board.watch(time.monotonic()):
            return
        others = [i for i in range(board.workers) if i != self.worker]
        before = {i: board.sequence(i) for i in others}
        deadline = time.monotonic() + _PUBLISH_WAIT
        while time.monotonic() < deadline:
            if all(_published(board.sequence(i), before[i]) for i in others):
                return
            await asyncio.sleep(0.02)

    async def sessions(self) -> list[LiveSession]:
        if self.board is not None:
            await self._fresh()
        now = time.time()
        own = [describe(c, self.node, self.worker, now) for c in list(self.server.sessions)]
        if self.board is not None:
            for index in range(self.board.workers):
                if index != self.worker:
                    own.extend(LiveSession.from_dict(d) for d in self.board.read(index))
        return sorted(own, key=lambda s: (s.since, s.id))

    async def transfers(self) -> list[LiveSession]:
        now = time.time()
        sessions = self.server.sessions
        own = [
            describe(c, self.node, self.worker, now)
            for c in list(sessions)
            if c.session.transfer is not None
        ]
        if self.board is not None:  # each worker publishes at least its transfers
            for index in range(self.board.workers):
                if index != self.worker:
                    own.extend(
                        LiveSession.from_dict(d) for d in self.board.read(index) if d["transfer"]
                    )
        return own

    async def kick(self, session_id: str) -> bool:
        node, worker, number = split_id(session_id)
        if worker < 0 or number < 0:
            return False
        if worker == self.worker:
            return node == self.node and kick_local(self.server, number)
        if self.board is None or worker >= self.board.workers:
            return False
        await self._fresh()
        if not any(d["id"] == session_id for d in self.board.read(worker)):
            return False
        self.board.request_kick(worker, number)
        return True
