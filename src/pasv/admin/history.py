"""Transfer history read back from the xferlog, searchable by user, path, time and result."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pasv.server.xferlog import ReadBack, field

_FIELDS = 18
_WINDOW = 16 << 20  # the newest 16 MiB of the log are searched
_CHUNK = 256 << 10  # read from the end this much at a time


@dataclass(frozen=True, slots=True)
class TransferRecord:
    time: float
    seconds: int
    address: str
    bytes: int
    path: str
    direction: str  # upload or download
    user: str
    anonymous: bool
    result: str  # complete or incomplete

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_line(line: str) -> TransferRecord | None:
    parts = line.split()
    if len(parts) != _FIELDS:
        return None
    try:
        when = time.mktime(time.strptime(" ".join(parts[:5]), "%a %b %d %H:%M:%S %Y"))
        return TransferRecord(
            time=when,
            seconds=int(parts[5]),
            address=parts[6],
            bytes=int(parts[7]),
            path=parts[8],
            direction="upload" if parts[11] == "i" else "download",
            user=parts[13],
            anonymous=parts[12] == "a",
            result="complete" if parts[17] == "c" else "incomplete",
        )
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Search:
    user: str | None = None
    path: str | None = None  # a part of the path
    since: float | None = None
    until: float | None = None
    result: str | None = None  # complete / incomplete
    limit: int = 100


@contextlib.contextmanager
def readable(log: Path | ReadBack) -> Iterator[int]:
    """A descriptor to read ``log`` with: the one the server writes it with (opened as root
    before the switch, when pasv started as root), else the file opened by its path."""
    if isinstance(log, ReadBack):
        with log.reading() as held:
            if held is not None:
                yield held
                return
        if log.path is None:
            raise FileNotFoundError("no log")
        log = log.path
    fd = os.open(log, os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def search(log: Path | ReadBack, query: Search) -> list[TransferRecord]:
    """Matching transfers, newest first: the log is read from its end in chunks, and only as
    far as the matches need (each chunk a short step, so a thread searching leaves the GIL to
    the FTP server's loop often)."""
    found: list[TransferRecord] = []
    # a line without the user's name or the part of the path is not parsed (strptime is most
    # of a search's time)
    needles = [text.encode() for text in (query.user, field(query.path or "")) if text]
    try:
        with readable(log) as fd:
            for raw in _lines_from_end(fd):
                if any(needle not in raw for needle in needles):
                    continue
                record = parse_line(raw.decode("utf-8", "replace"))
                if record is None or not _matches(record, query):
                    continue
                found.append(record)
                if len(found) >= query.limit:
                    break
    except OSError:
        return found
    return found


def _lines_from_end(fd: int) -> Iterator[bytes]:
    """The lines of the newest ``_WINDOW`` bytes of the file, last first (a line cut by the
    window's start is left out). Read at offsets: the descriptor may be the writer's."""
    size = os.fstat(fd).st_size
    start = max(0, size - _WINDOW)
    end, rest = size, b""
    while end > start:
        begin = max(start, end - _CHUNK)
        lines = (os.pread(fd, end - begin, begin) + rest).split(b"\n")
        rest = lines[0]  # may go on in the chunk before
        yield from (line.rstrip(b"\r") for line in reversed(lines[1:]) if line)
        end = begin
    if rest and start == 0:
        yield rest.rstrip(b"\r")


def _matches(record: TransferRecord, query: Search) -> bool:
    if query.user and record.user != query.user:
        return False
    if query.path and field(query.path) not in record.path:
        return False
    if query.since is not None and record.time < query.since:
        return False
    if query.until is not None and record.time > query.until:
        return False
    return not (query.result and record.result != query.result)
