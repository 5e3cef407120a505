"""Reply values, their RFC 959 single/multi-line encoding, and an incremental reply parser."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ProtocolViolation

__all__ = [
    "MAX_REPLY_BYTES",
    "MAX_REPLY_LINE",
    "MAX_REPLY_LINES",
    "Reply",
    "ReplyParser",
    "make_reply",
]

MAX_REPLY_LINE = 64 * 1024
# A multi-line reply that never ends (a hostile "220-" banner) must not fill the memory.
MAX_REPLY_LINES = 10_000
MAX_REPLY_BYTES = 1024 * 1024

# A middle line that looks like "NNN " / "NNN-" / "NNN" (after any spaces) could end or confuse
# a multi-line reply; the encoder prepends one space and the parser removes exactly one.
_LOOKS_LIKE_CODE = re.compile(r" *\d{3}(?:[ -]|$)")
_ESCAPED = re.compile(r" +\d{3}(?:[ -]|$)")
_FIRST_LINE = re.compile(r"(\d{3})(?:([ -])(.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Reply:
    """One server reply: a three-digit code and one or more text lines."""

    code: int
    lines: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.code <= 999:
            raise ValueError(f"reply code must have three digits: {self.code}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def encode(self, encoding: str = "utf-8") -> bytes:
        """Wire form: ``NNN text`` or ``NNN-first`` … ``NNN last``, CRLF-terminated."""
        first = self.lines[0] if len(self.lines) == 1 else "\n"
        if "\n" not in first and "\r" not in first:  # the common case: one plain line
            wire = f"{self.code:03d} {first}\r\n"
        else:
            wire = self._wire_lines()
        try:
            return wire.encode(encoding, "surrogateescape")
        except UnicodeEncodeError:
            return wire.encode(encoding, "replace")

    def _wire_lines(self) -> str:
        lines = [part for line in self.lines for part in line.replace("\r", "").split("\n")]
        if not lines:
            lines = [""]
        code = f"{self.code:03d}"
        if len(lines) == 1:
            return f"{code} {lines[0]}\r\n"
        middle = [" " + ln if _LOOKS_LIKE_CODE.match(ln) else ln for ln in lines[1:-1]]
        return "\r\n".join([f"{code}-{lines[0]}", *middle, f"{code} {lines[-1]}"]) + "\r\n"


def make_reply(code: int, text: str | None = None) -> Reply:
    """Build a Reply; ``None`` uses the code's phrase, and each "\\n" starts a new line."""
    if text is None:
        text = ReplyCode(code).phrase
    if "\n" not in text and "\r" not in text:  # the common case: one line
        return Reply(int(code), (text,))
    lines = text.replace("\r", "").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return Reply(int(code), tuple(lines))


def _decode(raw: bytes, encoding: str = "utf-8") -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class ReplyParser:
    """Incremental parser of server replies; ``feed`` returns every reply completed so far.

    Lines are decoded with ``encoding`` (for servers that do not speak UTF-8), falling back to
    latin-1 for a line that does not decode.
    """

    __slots__ = ("_buf", "_code", "_encoding", "_lines", "_size")

    def __init__(self, encoding: str = "utf-8") -> None:
        self._encoding = encoding
        self._buf = bytearray()
        self._code: str | None = None  # set while inside a multi-line reply
        self._lines: list[str] = []
        self._size = 0  # bytes of the multi-line reply so far

    @property
    def in_reply(self) -> bool:
        """True when part of a reply has been received but not its end."""
        return self._code is not None or bool(self._buf)

    def feed(self, data: bytes) -> list[Reply]:
        """Consume ``data``; raise ProtocolViolation on a malformed or over-long line."""
        out: list[Reply] = []
        self._buf += data
        start = 0
        while True:
            lf = self._buf.find(b"\n", start)
            if lf < 0:
                break
            if lf - start > MAX_REPLY_LINE + 1:
                self._fail_long()
            raw = bytes(self._buf[start:lf])
            start = lf + 1
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            self._size += len(raw)
            if self._code is not None and (
                len(self._lines) >= MAX_REPLY_LINES or self._size > MAX_REPLY_BYTES
            ):
                self._fail_big()
            reply = self._line(_decode(raw, self._encoding))
            if reply is not None:
                out.append(reply)
        del self._buf[:start]
        if len(self._buf) > MAX_REPLY_LINE + 1:
            self._fail_long()
        return out

    def _fail_long(self) -> None:
        self._buf.clear()
        raise ProtocolViolation(
            f"Malformed reply from server: a line is longer than {MAX_REPLY_LINE} bytes."
        )

    def _fail_big(self) -> None:
        self._buf.clear()
        self._code, self._lines, self._size = None, [], 0
        raise ProtocolViolation(
            "Malformed reply from server: a multi-line reply longer than "
            f"{MAX_REPLY_LINES} lines or {MAX_REPLY_BYTES // 1024} KiB."
        )

    def _line(self, line: str) -> Reply | None:
        code = self._code
        if code is None:
            m = _FIRST_LINE.fullmatch(line)
            if m is None:
                shown = line[:80].encode("unicode_escape").decode("ascii")
                raise ProtocolViolation(f"Malformed reply from server: {shown!r}")
            if m.group(2) == "-":
                self._size = len(line)
                self._code = m.group(1)
                self._lines = [m.group(3)]
                return None
            return Reply(int(m.group(1)), (m.group(3) or "",))
        if line == code or line.startswith(code + " "):
            lines = (*self._lines, line[4:])
            self._code = None
            self._lines = []
            self._size = 0
            return Reply(int(code), lines)
        if line.startswith(code + "-"):
            line = line[4:]
        elif _ESCAPED.match(line):
            line = line[1:]
        self._lines.append(line)
        return None
