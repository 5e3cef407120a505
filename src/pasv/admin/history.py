"""Transfer history read back from the xferlog, searchable by user, path, time and result."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_FIELDS = 18
_WINDOW = 16 << 20  # the newest 16 MiB of the log are searched


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


def search(path: Path, query: Search) -> list[TransferRecord]:
    """Matching transfers, newest first."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _WINDOW))
            data = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    found: list[TransferRecord] = []
    for line in reversed(data.splitlines()):
        record = parse_line(line)
        if record is None or not _matches(record, query):
            continue
        found.append(record)
        if len(found) >= query.limit:
            break
    return found


def _matches(record: TransferRecord, query: Search) -> bool:
    if query.user and record.user != query.user:
        return False
    if query.path and query.path.replace(" ", "_") not in record.path:
        return False
    if query.since is not None and record.time < query.since:
        return False
    if query.until is not None and record.time > query.until:
        return False
    return not (query.result and record.result != query.result)
