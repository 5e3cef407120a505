"""Control-connection line buffer: framing, Telnet IAC removal, length limit, decoding, verbs."""

from __future__ import annotations

from dataclasses import dataclass

from pasv.protocol.errors import CommandUnrecognized, FtpError, LineTooLong
from pasv.protocol.texts import said

__all__ = [
    "UTF8_ONLY",
    "Command",
    "ForeignCommand",
    "LineBuffer",
    "escaped",
    "parse_command",
    "whole_line",
]

IAC = 0xFF
WILL, WONT, DO, DONT = 0xFB, 0xFC, 0xFD, 0xFE
_FIRST_TELNET_COMMAND = 0xF0  # SE; bytes 240..254 after IAC are commands

# Telnet state while scanning
_NORMAL, _AFTER_IAC, _AFTER_OPTION_VERB = 0, 1, 2

_MAX_VERB = 10
_SHOWN_VERB = 20


@dataclass(frozen=True, slots=True)
class Command:
    """One command line: ``name`` is the upper-case verb, ``arg`` the text after the first space."""

    name: str
    arg: str = ""


@dataclass(frozen=True, slots=True)
class ForeignCommand(Command):
    """A command line read in another of the session's encodings than its own (``charset``):
    a line in the legacy encoding from a session still on UTF-8. Its own class, so that the
    common line is built with two fields and told apart by its type alone."""

    charset: str = "utf-8"


def escaped(text: str) -> str:
    """``text`` with anything not printable (a CR, an escape sequence, a line separator)
    written as its Python escape, for a reply or a log line that repeats a client's text."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _show(text: str) -> str:
    """Truncate to a few characters and escape anything not printable, for an error reply."""
    return escaped(text[:_SHOWN_VERB])


_UNRECOGNIZED = "Syntax error, command unrecognized: {verb}"
_SECRET_VERBS = ("PASS", "ACCT")  # their argument is a password


def _secret_cut(verb: str) -> str:
    """A "verb" that starts with PASS or ACCT but is longer (``PASS\\tpw``, or a password
    glued on), cut after its fifth character: the reply and the debug log that repeat it
    never repeat the password."""
    return verb[:5] if verb[:4].upper() in _SECRET_VERBS else verb


def parse_command(line: str) -> Command:
    """Split one line (without its line end) into verb and argument; raise CommandUnrecognized."""
    line = line.rstrip("\r")
    if not line:
        raise CommandUnrecognized("Syntax error, empty command line.")
    verb, sep, arg = line.partition(" ")
    if not (0 < len(verb) <= _MAX_VERB and verb.isascii() and verb.isalpha()):
        shown = _show(_secret_cut(verb) or line)
        raise CommandUnrecognized(said("replies", "parser.unrecognized", _UNRECOGNIZED, verb=shown))
    return Command(verb.upper(), arg if sep else "")


UTF8_ONLY: tuple[str, ...] = ("utf-8",)


def _fallback(raw: bytes, charsets: tuple[str, ...]) -> tuple[str, str | None]:
    """A line that is not in the session's own encoding: in the first of the others it decodes
    in, and that one's name; else latin-1 (and None)."""
    for charset in charsets[1:]:
        try:
            return raw.decode(charset), charset
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), None


def _parse(raw: bytes, charsets: tuple[str, ...]) -> Command | FtpError:
    try:
        text = raw.decode(charsets[0])
        charset = None
    except UnicodeDecodeError:
        text, charset = _fallback(raw, charsets)
    try:
        command = parse_command(text)
    except FtpError as exc:
        return exc
    return command if charset is None else ForeignCommand(command.name, command.arg, charset)


def whole_line(
    data: bytes, max_line: int, charsets: tuple[str, ...] = UTF8_ONLY
) -> list[Command | FtpError] | None:
    """The common case of a read: exactly one whole, plain line (no Telnet commands, not
    too long), parsed; None for anything else, which needs a LineBuffer. A line is read in
    the first of ``charsets`` it decodes in (the session's own first), else as latin-1."""
    if (
        data
        and data.find(b"\n") == len(data) - 1
        and len(data) <= max_line + 2
        and b"\xff" not in data
    ):
        raw = data[:-2] if data.endswith(b"\r\n") else data[:-1]
        if len(raw) <= max_line:
            return [_parse(raw, charsets)]
    return None


class LineBuffer:
    """Incremental command-line splitter; ``feed`` returns commands and per-line errors."""

    __slots__ = ("_buf", "_charsets", "_discarding", "_max_line", "_telnet")

    def __init__(self, max_line: int = 4096) -> None:
        if max_line < 1:
            raise ValueError("max_line must be positive")
        self._max_line = max_line
        self._buf = b""  # bytes, not a bytearray: an empty one is shared (idle sessions)
        self._discarding = False
        self._telnet = _NORMAL
        self._charsets = UTF8_ONLY

    @property
    def pending(self) -> int:
        """Bytes of an unfinished line held in the buffer (bounded by ``max_line`` + a CR)."""
        return len(self._buf)

    def feed(self, data: bytes, charsets: tuple[str, ...] = UTF8_ONLY) -> list[Command | FtpError]:
        """Consume ``data`` and return one item per completed line (read as ``whole_line``
        reads one)."""
        self._charsets = charsets
        if not self._buf and self._telnet == _NORMAL and not self._discarding:
            whole = whole_line(data, self._max_line, charsets)
            if whole is not None:
                return whole
        out: list[Command | FtpError] = []
        view = memoryview(data)
        i, n = 0, len(data)
        while i < n:
            if self._telnet != _NORMAL:
                i = self._telnet_byte(data[i], i, out)
                continue
            lf = data.find(b"\n", i)
            ff = data.find(b"\xff", i, lf if lf >= 0 else n)
            if ff >= 0:
                self._append(view[i:ff], out)
                self._telnet = _AFTER_IAC
                i = ff + 1
            elif lf >= 0:
                self._append(view[i:lf], out)
                self._end_line(out)
                i = lf + 1
            else:
                self._append(view[i:n], out)
                i = n
        return out

    def _telnet_byte(self, byte: int, i: int, out: list[Command | FtpError]) -> int:
        """Handle the byte at ``i`` following an IAC; return the next index to scan."""
        if self._telnet == _AFTER_OPTION_VERB:
            self._telnet = _NORMAL  # the option byte: dropped
            return i + 1
        self._telnet = _NORMAL
        if byte == IAC:
            self._append(b"\xff", out)
        elif byte in (WILL, WONT, DO, DONT):
            self._telnet = _AFTER_OPTION_VERB
        elif byte < _FIRST_TELNET_COMMAND:
            return i  # not a Telnet command: drop the lone IAC, scan this byte normally
        return i + 1

    def _append(self, chunk: bytes | memoryview, out: list[Command | FtpError]) -> None:
        if self._discarding or not chunk:
            return
        total = len(self._buf) + len(chunk)
        # A trailing CR belongs to the line end, so it may sit one byte past the limit.
        if total > self._max_line and not (total == self._max_line + 1 and chunk[-1:] == b"\r"):
            self._buf = b""
            self._discarding = True
            out.append(LineTooLong())
            return
        self._buf += chunk

    def _end_line(self, out: list[Command | FtpError]) -> None:
        if self._discarding:
            self._discarding = False
            return
        raw = self._buf
        self._buf = b""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        item = _parse(raw, self._charsets)
        if isinstance(item, ForeignCommand) and item.charset != "utf-8":
            # the session speaks it from now on: so do the lines after it in this read
            self._charsets = (item.charset, *(c for c in self._charsets if c != item.charset))
        out.append(item)
