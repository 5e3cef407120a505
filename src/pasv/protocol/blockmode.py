"""MODE B framing (RFC 959 §3.4.2): block headers, EOF/EOR descriptors, restart-marker blocks.

Each block is a one-byte descriptor, a 16-bit big-endian byte count and that many bytes. The
descriptor bits: 128 end of record, 64 end of file, 32 suspected errors, 16 the block is a
restart marker (§3.5: printable characters, no space). Sans-IO: bytes in, events out.
"""

from __future__ import annotations

from dataclasses import dataclass

EOR = 0x80
EOF = 0x40
SUSPECT = 0x20
MARKER = 0x10
KNOWN = EOR | EOF | SUSPECT | MARKER
MAX_COUNT = 0xFFFF
MAX_MARKER = 64  # longer than any position we write; a bound on what we keep from a peer


class BadBlock(ValueError):
    """The bytes on the data connection are not a valid MODE B stream."""


@dataclass(frozen=True, slots=True)
class Data:
    """File bytes from a data block (``record_end``: its descriptor had EOR)."""

    data: bytes
    record_end: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    """A restart marker the sender embedded (its own position, in its own words)."""

    marker: str


@dataclass(frozen=True, slots=True)
class End:
    """The EOF descriptor: the sender says the file is complete."""


Event = Data | Marker | End


def header(descriptor: int, count: int) -> bytes:
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"a block holds at most {MAX_COUNT} bytes, not {count}")
    return bytes((descriptor, count >> 8, count & 0xFF))


def valid_marker(marker: str) -> bool:
    """Printable ASCII without spaces (RFC 959 §3.4.2), 1 to MAX_MARKER characters."""
    return 0 < len(marker) <= MAX_MARKER and all(33 <= ord(c) <= 126 for c in marker)


def encode_data(data: bytes | bytearray | memoryview) -> list[bytes | memoryview]:
    """``data`` as data blocks (headers and slices, for one joined send)."""
    parts: list[bytes | memoryview] = []
    view = memoryview(data)
    for start in range(0, len(view), MAX_COUNT):
        piece = view[start : start + MAX_COUNT]
        parts.append(header(0, len(piece)))
        parts.append(piece)
    return parts


def encode_marker(marker: str) -> bytes:
    if not valid_marker(marker):
        raise ValueError(f"not a restart marker (printable, no spaces): {marker!r}")
    raw = marker.encode("ascii")
    return header(MARKER, len(raw)) + raw


def encode_eof() -> bytes:
    """An empty block with the EOF descriptor: the end of the file."""
    return header(EOF, 0)


class BlockDecoder:
    """Incremental MODE B parser: ``feed`` bytes, get events; ``BadBlock`` on a bad stream."""

    __slots__ = ("_body", "_descriptor", "_ended", "_head", "_need")

    def __init__(self) -> None:
        self._head = b""  # a header split across reads
        self._descriptor = 0
        self._need = 0  # bytes of the current block's body still to come
        self._body: list[bytes] = []  # a marker's body split across reads
        self._ended = False

    @property
    def ended(self) -> bool:
        """True once the EOF descriptor arrived."""
        return self._ended

    @property
    def between_blocks(self) -> bool:
        return self._need == 0 and not self._head

    def feed(self, data: bytes | memoryview) -> list[Event]:
        events: list[Event] = []
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._ended:
                raise BadBlock(f"{len(view) - pos} bytes after the EOF block")
            if self._need == 0:
                take = min(3 - len(self._head), len(view) - pos)
                self._head += bytes(view[pos : pos + take])
                pos += take
                if len(self._head) < 3:
                    break
                self._start_block(events)
                continue
            take = min(self._need, len(view) - pos)
            chunk = view[pos : pos + take]
            pos += take
            self._need -= take
            if self._descriptor & MARKER:
                self._body.append(bytes(chunk))
                if self._need == 0:
                    self._end_marker(events)
            else:
                last = self._need == 0
                events.append(Data(bytes(chunk), last and bool(self._descriptor & EOR)))
                if last and self._descriptor & EOF:
                    self._finish(events)
        return events

    def _start_block(self, events: list[Event]) -> None:
        descriptor, count = self._head[0], (self._head[1] << 8) | self._head[2]
        self._head = b""
        if descriptor & ~KNOWN:
            raise BadBlock(f"unknown block descriptor {descriptor} (known bits: 128, 64, 32, 16)")
        if descriptor & MARKER and not 0 < count <= MAX_MARKER:
            raise BadBlock(f"a restart marker block of {count} bytes (1 to {MAX_MARKER} allowed)")
        self._descriptor, self._need = descriptor, count
        if count == 0:
            if descriptor & EOR:
                events.append(Data(b"", True))
            if descriptor & EOF:
                self._finish(events)

    def _end_marker(self, events: list[Event]) -> None:
        raw = b"".join(self._body)
        self._body = []
        text = raw.decode("ascii", "replace")
        if not valid_marker(text):
            raise BadBlock(f"a restart marker with unprintable bytes or spaces: {raw[:20]!r}")
        events.append(Marker(text))
        if self._descriptor & EOF:
            self._finish(events)

    def _finish(self, events: list[Event]) -> None:
        self._ended = True
        events.append(End())

    def check_end(self) -> None:
        """At the end of the connection: ``BadBlock`` unless the EOF descriptor came."""
        if self._ended:
            return
        if self._need or self._head:
            raise BadBlock("the data connection closed inside a block")
        raise BadBlock("the data connection closed without the EOF block")
