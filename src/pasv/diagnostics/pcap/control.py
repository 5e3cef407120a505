"""The FTP control connection read back from its two byte streams: timed commands and replies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pasv.diagnostics.pcap.tcp import Connection, Stream
from pasv.protocol.errors import FtpError
from pasv.protocol.parser import Command, parse_command
from pasv.protocol.replies import Reply, ReplyParser

__all__ = ["Event", "looks_like_control", "read_events"]

_REPLY_START = re.compile(rb"^[1-5][0-9]{2}[ -]")
_COMMAND_START = re.compile(rb"^[A-Za-z]{3,4}( |\r?\n)")


@dataclass(frozen=True, slots=True)
class Event:
    """A command from the client or a reply from the server, when the capture saw it."""

    ts: float
    command: Command | None = None
    reply: Reply | None = None
    raw: str = ""  # a line that is neither (encrypted, garbled)


def looks_like_control(conn: Connection) -> bool:
    """True when the server speaks first with a reply and the client answers with commands."""
    return bool(_REPLY_START.match(conn.s2c.data)) and (
        not conn.c2s.data or bool(_COMMAND_START.match(conn.c2s.data))
    )


def _lines(stream: Stream) -> list[tuple[float, bytes]]:
    out: list[tuple[float, bytes]] = []
    start = 0
    data = stream.data
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        out.append((stream.time_at(start), data[start:end]))
        start = end
    return out


def _commands(stream: Stream) -> list[Event]:
    out: list[Event] = []
    for ts, raw in _lines(stream):
        text = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        try:
            command = parse_command(text)
        except FtpError:
            out.append(Event(ts, raw=text))
            continue
        out.append(Event(ts, command=command))
        if command.name == "AUTH":
            break  # what follows is TLS
    return out


def _replies(stream: Stream) -> list[Event]:
    out: list[Event] = []
    parser = ReplyParser()
    for ts, raw in _lines(stream):
        try:
            replies = parser.feed(raw if raw.endswith(b"\n") else raw + b"\r\n")
        except FtpError:
            parser = ReplyParser()
            out.append(Event(ts, raw=raw.rstrip(b"\r\n").decode("utf-8", "replace")))
            continue
        out.extend(Event(ts, reply=r) for r in replies)
        if any(r.code == 234 for r in replies):
            break  # TLS from here on
    return out


def read_events(conn: Connection) -> list[Event]:
    """Commands and replies in capture order (on a tie, a command before a reply)."""
    commands, replies = _commands(conn.c2s), _replies(conn.s2c)
    merged: list[Event] = []
    i = j = 0
    while i < len(commands) or j < len(replies):
        take_command = j >= len(replies) or (
            i < len(commands) and commands[i].ts <= replies[j].ts and j > 0
        )
        if take_command:
            merged.append(commands[i])
            i += 1
        else:
            merged.append(replies[j])
            j += 1
    return merged
