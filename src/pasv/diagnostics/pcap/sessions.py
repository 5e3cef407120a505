"""FTP sessions rebuilt from a capture: state (cwd, TYPE, REST, SIZE), and each transfer's data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pasv.diagnostics.pcap.control import Event, looks_like_control, read_events
from pasv.diagnostics.pcap.tcp import Connection, Endpoint, Stream
from pasv.protocol import paths
from pasv.protocol.addresses import parse_227, parse_229, parse_eprt_argument, parse_port_argument
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply

__all__ = ["Session", "Transfer", "rebuild_sessions"]

LISTINGS = frozenset({"LIST", "NLST", "MLSD"})
DOWNLOADS = frozenset({"RETR"})
UPLOADS = frozenset({"STOR", "APPE", "STOU"})
_BYTES = re.compile(r"\((\d+) bytes\)")
_STOU_NAME = (re.compile(r"FILE:\s*(.+?)\s*$"), re.compile(r"unique file ?name:?\s*(\S+?)\)?$"))
_SLACK = 1.0  # seconds a data connection may precede its announcement's capture time


@dataclass(frozen=True, slots=True)
class Announcement:
    """Where a data connection was announced: 227/229 by the server, PORT/EPRT by the client."""

    ts: float
    host: str
    port: int
    passive: bool
    form: str


@dataclass
class Transfer:
    """One listing, download or upload, with the data the capture holds for it."""

    ts: float
    verb: str
    arg: str
    path: str
    type: str  # "A" or "I"
    rest: int
    announcement: Announcement | None
    replies: list[Reply] = field(default_factory=list)
    data: Stream | None = None
    size_hint: int | None = None  # what SIZE or the 150 reply said the file holds
    mode: str = "S"  # MODE in force: S stream, Z deflate, B block (the data is decoded)

    @property
    def kind(self) -> Literal["listing", "download", "upload"]:
        if self.verb in LISTINGS:
            return "listing"
        return "download" if self.verb in DOWNLOADS else "upload"

    @property
    def final(self) -> Reply | None:
        return next((r for r in self.replies if r.code >= 200), None)

    @property
    def problems(self) -> list[str]:
        """Why this transfer's data may not be whole (empty when it is)."""
        out: list[str] = []
        final = self.final
        if self.data is None:
            out.append("its data connection is not in the capture")
        else:
            for start, end in self.data.missing:
                out.append(f"bytes {start}-{end} of the data connection were not captured")
            if not self.data.closed and not self.data.reset:
                out.append("the capture ends before the data connection closed")
        if final is None:
            out.append("no final reply in the capture")
        elif final.code not in (226, 250):
            out.append(f"the server answered {final.code} {final.lines[0]}")
        return out


@dataclass
class Session:
    """One control connection: who, when, what was said, and the transfers."""

    conn: Connection
    events: list[Event]
    user: str | None = None
    passwords: list[str] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    sizes: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    encrypted: bool = False


class _State:
    def __init__(self, session: Session, data_conns: list[Connection], claimed: set[int]) -> None:
        self.s = session
        self.data_conns = data_conns
        self.claimed = claimed
        self.cwd = "/"
        self.type = "A"
        self.mode = "S"
        self.rest = 0
        self.announced: Announcement | None = None
        self.pending: list[tuple[Event, list[Reply]]] = []

    def path(self, arg: str) -> str:
        try:
            return paths.resolve(self.cwd, arg or ".")
        except FtpError:
            return arg

    def command(self, event: Event) -> None:
        assert event.command is not None
        name, arg = event.command.name, event.command.arg
        if name == "USER":
            self.s.user = arg
        elif name == "PASS":
            self.s.passwords.append(arg)
        elif name == "AUTH":
            self.s.encrypted = True
        if name in LISTINGS | DOWNLOADS | UPLOADS:
            path = "" if name in LISTINGS and not arg.strip() else self.path(arg)
            transfer = Transfer(
                event.ts, name, arg, path or self.cwd, self.type, self.rest, self.announced
            )
            transfer.mode = self.mode
            transfer.data = self._data_for(transfer)
            self.s.transfers.append(transfer)
            self.rest, self.announced = 0, None
        self.pending.append((event, []))

    def reply(self, event: Event) -> None:
        reply = event.reply
        assert reply is not None
        if not self.pending:
            return  # the greeting, or a reply to a command the capture missed
        command_event, prelims = self.pending[0]
        if reply.code < 200:
            prelims.append(reply)
            return
        self.pending.pop(0)
        assert command_event.command is not None
        command = command_event.command
        self._answered(command.name, command.arg, [*prelims, reply], event.ts)

    def end_of_capture(self) -> None:
        """The transfers the capture ends in: what their 150 said (the size) still counts."""
        for command_event, prelims in self.pending:
            for transfer in self.s.transfers:
                if prelims and transfer.ts == command_event.ts and not transfer.replies:
                    transfer.replies = prelims
                    self._learn_from_transfer(transfer)

    def _answered(self, name: str, arg: str, replies: list[Reply], ts: float) -> None:
        reply = replies[-1]
        text = " ".join(reply.lines)
        ok = 200 <= reply.code < 400
        if name in LISTINGS | DOWNLOADS | UPLOADS:
            transfer = next(t for t in reversed(self.s.transfers) if not t.replies)
            transfer.replies = replies
            self._learn_from_transfer(transfer)
        elif not ok:
            return
        elif name in ("CWD", "XCWD"):
            self.cwd = self.path(arg)
        elif name in ("CDUP", "XCUP"):
            self.cwd = paths.parent(self.cwd)
        elif name in ("PWD", "XPWD") and text.startswith('"'):
            self.cwd = text[1:].split('" ', 1)[0].rstrip('"').replace('""', '"') or self.cwd
        elif name == "MODE" and arg.strip().upper() in ("S", "Z", "B"):
            self.mode = arg.strip().upper()
        elif name == "TYPE" and arg:
            self.type = "A" if arg.strip().upper().startswith("A") else "I"
        elif name == "REST" and arg.strip().isdigit():
            self.rest = int(arg.strip())
        elif name == "SIZE" and reply.code == 213 and text.strip().isdigit():
            self.s.sizes.setdefault(self.path(arg), []).append((ts, int(text.strip())))
        else:
            self._announce(name, arg, reply, ts)

    def _announce(self, name: str, arg: str, reply: Reply, ts: float) -> None:
        text = " ".join(reply.lines)
        try:
            if name == "PASV" and reply.code == 227:
                host, port = parse_227(text)
                self.announced = Announcement(ts, host, port, True, "227")
            elif name == "EPSV" and reply.code == 229:
                host = self.s.conn.server[0]
                self.announced = Announcement(ts, host, parse_229(text), True, "229")
            elif name == "PORT":
                host, port = parse_port_argument(arg)
                self.announced = Announcement(ts, host, port, False, "PORT")
            elif name == "EPRT":
                host, port = parse_eprt_argument(arg)
                self.announced = Announcement(ts, host, port, False, "EPRT")
        except FtpError:
            self.announced = None

    def _learn_from_transfer(self, transfer: Transfer) -> None:
        for reply in transfer.replies:
            text = " ".join(reply.lines)
            m = _BYTES.search(text)
            if m and transfer.kind == "download":
                transfer.size_hint = int(m.group(1))
            if transfer.verb == "STOU":
                for pattern in _STOU_NAME:
                    found = pattern.search(text)
                    if found:
                        transfer.path = self.path(found.group(1).strip().strip('"'))
                        break

    def _data_for(self, transfer: Transfer) -> Stream | None:
        ann = transfer.announcement
        if ann is None:
            return None
        ctrl = self.s.conn
        hosts = {ann.host, ctrl.server[0] if ann.passive else ctrl.client[0]}
        for index, conn in enumerate(self.data_conns):
            if index in self.claimed or conn.first_ts < ann.ts - _SLACK:
                continue
            ends = [e for e in (conn.client, conn.server) if e[1] == ann.port and e[0] in hosts]
            if ends:
                self.claimed.add(index)
                downloading = transfer.kind != "upload"
                return _sent_by(conn, ends[0], to_client=downloading, passive=ann.passive)
        return None


def _sent_by(conn: Connection, announced: Endpoint, *, to_client: bool, passive: bool) -> Stream:
    """The stream the data flowed in: from the FTP server's end for downloads and listings."""
    other = conn.server if announced == conn.client else conn.client
    server_end = announced if passive else other
    server_is_tcp_server = conn.server == server_end
    if to_client:
        return conn.s2c if server_is_tcp_server else conn.c2s
    return conn.c2s if server_is_tcp_server else conn.s2c


def rebuild_sessions(conns: list[Connection]) -> tuple[list[Session], list[Connection]]:
    """The FTP sessions of a capture, and the connections no session accounts for."""
    controls = [c for c in conns if looks_like_control(c)]
    others = [c for c in conns if not looks_like_control(c)]
    claimed: set[int] = set()
    sessions: list[Session] = []
    for conn in controls:
        events = read_events(conn)
        session = Session(conn, events)
        state = _State(session, others, claimed)
        for event in events:
            if event.command is not None:
                state.command(event)
            elif event.reply is not None:
                state.reply(event)
        state.end_of_capture()
        sessions.append(session)
    unclaimed = [c for i, c in enumerate(others) if i not in claimed]
    return sessions, unclaimed
