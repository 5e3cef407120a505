"""Fuzz targets shared by the hypothesis properties and the atheris runs: bytes in, invariants
checked, and only the documented typed errors may come out.

Allowed errors, per target:
- ``line_buffer``: none. ``LineBuffer.feed`` never raises; a bad line becomes an item in its
  result, and only ``CommandUnrecognized`` or ``LineTooLong`` (both 500) are produced.
- ``reply_parser``: ``ProtocolViolation`` (a malformed or over-long reply line) and nothing else.
- ``addresses``: the parsers raise ``ArgumentError`` (501) or, for an EPRT network protocol
  other than 1 and 2, ``ParameterNotImplemented`` with code 522. The formatters raise
  ``ValueError`` for an address or port they cannot encode.
- ``listing``: ``parse_list_line`` never raises (unknown lines give ``None``);
  ``parse_mlsx_line`` raises ``ArgumentError`` only.
- ``block_mode``: MODE B data from a hostile peer; ``BlockDecoder`` raises ``BadBlock`` only,
  however the bytes are cut, and what it decoded encodes and decodes to the same events.
Where a format exists for what was parsed, formatting it and parsing again gives the same facts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from pasv.protocol import blockmode
from pasv.protocol.addresses import (
    format_227,
    format_229,
    format_eprt_argument,
    format_port_argument,
    parse_227,
    parse_229,
    parse_eprt_argument,
    parse_port_argument,
)
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    ArgumentError,
    CommandUnrecognized,
    FtpError,
    LineTooLong,
    ParameterNotImplemented,
    ProtocolViolation,
)
from pasv.protocol.listing import (
    ALL_MLST_FACTS,
    FileFacts,
    format_list_line,
    format_mlsx_facts,
    parse_list_line,
    parse_mlsx_line,
)
from pasv.protocol.parser import Command, LineBuffer
from pasv.protocol.replies import MAX_REPLY_LINE, Reply, ReplyParser

__all__ = ["CORPUS", "TARGETS", "addresses", "line_buffer", "listing", "reply_parser"]

_VERB = re.compile(r"[A-Z]{1,10}")
NOW = 1_700_000_000.0  # a fixed "now" for listings, so a run is reproducible


def _cuts(data: bytes, seed: bytes) -> list[bytes]:
    """Split ``data`` into pieces whose sizes come from ``seed`` (the network's chunking)."""
    pieces, start = [], 0
    for b in seed:
        if start >= len(data):
            break
        pieces.append(data[start : start + b + 1])
        start += b + 1
    pieces.append(data[start:])
    return pieces


def _summary(items: list[Command | FtpError]) -> list[object]:
    return [x if isinstance(x, Command) else (type(x), x.text) for x in items]


def line_buffer(data: bytes) -> None:
    """Control-connection input: framing, IAC, length limit, decoding, verbs."""
    max_line = 4096 if not data or data[0] >= 200 else data[0] % 64 + 1
    seed, body = data[1:5], data[5:]
    buf = LineBuffer(max_line)
    out: list[Command | FtpError] = []
    for piece in _cuts(body, seed):
        out += buf.feed(piece)
        assert buf.pending <= max_line + 1, (buf.pending, max_line)
    for item in out:
        if isinstance(item, Command):
            assert _VERB.fullmatch(item.name), item
            assert "\n" not in item.arg
        else:
            assert type(item) in (CommandUnrecognized, LineTooLong), item
            assert item.code == ReplyCode.SYNTAX_ERROR
    assert len([x for x in out if not isinstance(x, LineTooLong)]) <= body.count(b"\n")
    whole = LineBuffer(max_line)
    assert _summary(whole.feed(body)) == _summary(out), "chunking changed the result"


def reply_parser(data: bytes) -> None:
    """Server replies as the client reads them: only ProtocolViolation may come out."""
    seed, body = data[:4], data[4:]
    parser = ReplyParser()
    replies: list[Reply] = []
    try:
        for piece in _cuts(body, seed):
            replies += parser.feed(piece)
    except ProtocolViolation as exc:
        assert exc.code == ReplyCode.LOCAL_ERROR
    for reply in replies:
        assert 0 <= reply.code <= 999 and reply.lines
        assert all("\n" not in line and len(line) <= MAX_REPLY_LINE for line in reply.lines)
        if any("\r" in line for line in reply.lines):
            continue  # the encoder drops stray CRs (they could break framing elsewhere)
        assert ReplyParser().feed(reply.encode()) == [reply], reply


def _check_ipv4_result(host: str, port: int) -> None:
    assert isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    assert 1 <= port <= 65535
    assert parse_port_argument(format_port_argument(host, port)) == (host, port)
    assert parse_227(format_227(host, port)) == (host, port)


def addresses(data: bytes) -> None:
    """PORT/EPRT arguments and 227/229 texts from a hostile peer."""
    text = data.decode("utf-8", "replace")
    for parse in (parse_port_argument, parse_227):
        try:
            host, port = parse(text)
        except ArgumentError as exc:
            assert exc.code == ReplyCode.ARGUMENT_ERROR
        else:
            _check_ipv4_result(host, port)
    try:
        host, port = parse_eprt_argument(text)
    except ParameterNotImplemented as exc:
        assert exc.code == ReplyCode.UNSUPPORTED_NETWORK_PROTOCOL
    except ArgumentError as exc:
        assert exc.code == ReplyCode.ARGUMENT_ERROR
    else:
        assert 1 <= port <= 65535
        assert parse_eprt_argument(format_eprt_argument(host, port)) == (host, port)
    try:
        port = parse_229(text)
    except ArgumentError:
        pass
    else:
        assert 1 <= port <= 65535
        assert parse_229(format_229(port)) == port


def _same_listed(a: FileFacts, b: FileFacts) -> None:
    assert (a.name, a.size, a.mode) == (b.name, b.size, b.mode), (a, b)


def listing(data: bytes) -> None:
    """LIST lines (unix and MS-DOS) and MLSx fact lines from a hostile server."""
    line = data.decode("utf-8", "replace")
    facts = parse_list_line(line, now=NOW)
    if facts is not None:
        assert facts.kind in ("file", "dir", "link", "other")
        assert facts.size >= 0 and 0 <= facts.mode <= 0o7777
        if facts.kind in ("file", "dir"):
            again = parse_list_line(format_list_line(facts, NOW), now=NOW)
            assert again is not None, facts
            _same_listed(again, facts)
            assert again.kind == facts.kind
    try:
        mlsx = parse_mlsx_line(line)
    except ArgumentError as exc:
        assert exc.code == ReplyCode.ARGUMENT_ERROR
        return
    assert mlsx.size >= 0 and 0 <= mlsx.mode <= 0o7777
    again = parse_mlsx_line(format_mlsx_facts(mlsx, "r", ALL_MLST_FACTS))
    _same_listed(again, mlsx)
    assert (again.kind, again.unique) == (mlsx.kind, mlsx.unique)
    assert abs(again.mtime - mlsx.mtime) < 1


def _decode(pieces: list[bytes]) -> tuple[list[blockmode.Event], str | None]:
    decoder = blockmode.BlockDecoder()
    events: list[blockmode.Event] = []
    try:
        for piece in pieces:
            events += decoder.feed(piece)
        decoder.check_end()
    except blockmode.BadBlock as exc:
        return events, str(exc)
    return events, None


def _joined(events: list[blockmode.Event]) -> tuple[bytes, list[str], bool]:
    data = b"".join(e.data for e in events if isinstance(e, blockmode.Data))
    markers = [e.marker for e in events if isinstance(e, blockmode.Marker)]
    return data, markers, any(isinstance(e, blockmode.End) for e in events)


def block_mode(data: bytes) -> None:
    """MODE B blocks as an upload's data connection delivers them, cut anywhere."""
    seed, body = data[:4], data[4:]
    cut, error = _decode(_cuts(body, seed))
    whole, whole_error = _decode([body])
    assert (error is None) == (whole_error is None), (error, whole_error)
    if error is None:
        assert _joined(cut) == _joined(whole), "chunking changed the result"
        payload, markers, ended = _joined(whole)
        assert ended
        again = [bytes(p) for p in blockmode.encode_data(payload[:1000])]
        again += [blockmode.encode_marker(m) for m in markers]
        again += [bytes(p) for p in blockmode.encode_data(payload[1000:])]
        again.append(blockmode.encode_eof())
        events, problem = _decode([b"".join(again)])
        assert problem is None and _joined(events) == (payload, markers, True)


# Realistic starting inputs for atheris (the first bytes of line_buffer and reply_parser are
# their chunking seed and, for line_buffer, the line limit).
CORPUS: dict[str, list[bytes]] = {
    "line_buffer": [
        b"\xc8\x03\x05\x07\x0bUSER alice\r\nPASS x\r\nNOOP\r\n",
        b"\x10\x01\x02\x03\x04RETR \xff\xff\xc3\x28\r\n\xff\xf4\xff\xf2ABOR\n",
        b"\x05\x00\x00\x00\x00STOR " + b"A" * 40 + b"\r\nPWD\r\n",
    ],
    "reply_parser": [
        b"\x03\x05\x07\x0b220 ready\r\n211-Features:\r\n UTF8\r\n 211 x\r\n211 End\r\n",
        b"\x01\x01\x01\x01227 Entering Passive Mode (127,0,0,1,4,1).\r\n150-a\n150 b\n",
    ],
    "addresses": [
        b"127,0,0,1,4,1",
        b"Entering Passive Mode (192,0,2,1,255,255).",
        b"|1|127.0.0.1|2121|",
        b"|2|::1|21|",
        b"Entering Extended Passive Mode (|||50000|)",
    ],
    "listing": [
        b"-rw-r--r--   1 ftp      ftp          1234 Jan 02 12:34 name.txt",
        b"drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2020 dir",
        b"lrwxrwxrwx 1 owner 7 2024-02-29 23:59 link -> target",
        b"01-02-24  10:15AM       <DIR>          folder",
        b"12-31-1999  11:59PM            1,234,567 file.zip",
        b"type=file;size=12;modify=20240101000000.5;perm=r;unique=a1;unix.mode=0644; x y",
        b" type=dir;sizd=4096;modify=20241231235960; dir",
    ],
    "block_mode": [
        b"\x02\x03\x01\x05\x00\x00\x05hello\x10\x00\x015\x40\x00\x00",
        b"\x00\x00\x00\x00\x80\x00\x02ab\xc0\x00\x00",
        b"\x01\x01\x01\x01\x10\x00\x07r100000\x40\x00\x03end",
    ],
}

TARGETS: dict[str, Callable[[bytes], None]] = {
    "line_buffer": line_buffer,
    "reply_parser": reply_parser,
    "addresses": addresses,
    "listing": listing,
    "block_mode": block_mode,
}
