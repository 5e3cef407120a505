"""MODE B restart checkpoints: the last marker both sides agreed on, kept beside the local file.

A download records each marker the server embeds (the server's marker, and how many bytes of
the local file were written before it); an upload records each ``110 MARK yyyy = mmmm`` reply
(our position yyyy, the server's marker mmmm). An interrupted transfer resumes with
``REST <server marker>`` from that local position; a completed one removes the file.

Every download (in any mode) also keeps a ``Part`` record beside its file while it runs: a
partial file is resumed only when it was left by pasv's own download of the same remote file,
whose size and modification time have not changed since.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "Checkpoint",
    "Part",
    "clear",
    "clear_part",
    "load",
    "load_part",
    "part_sidecar",
    "save",
    "save_part",
    "sidecar",
]

SUFFIX = ".pasv-marker"


@dataclass(frozen=True)
class Checkpoint:
    direction: str  # "get" or "put"
    remote: str
    server: str  # the server's marker, sent back with REST
    local: int  # the local file's position at that marker


def sidecar(local: Path) -> Path:
    return local.with_name(local.name + SUFFIX)


def load(local: Path, direction: str, remote: str) -> Checkpoint | None:
    """The checkpoint of this transfer, or None (none kept, another transfer's, unreadable)."""
    try:
        raw = json.loads(sidecar(local).read_text("utf-8"))
        found = Checkpoint(str(raw["direction"]), str(raw["remote"]), str(raw["server"]),
                           int(raw["local"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if found.direction != direction or found.remote != remote or found.local < 0:
        return None
    return found


def save(local: Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint whole or not at all (a temporary file renamed over the old one)."""
    path = sidecar(local)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(asdict(checkpoint)), "utf-8")
    os.replace(temporary, path)


def clear(local: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        sidecar(local).unlink()


PART_SUFFIX = ".pasv-part"


@dataclass(frozen=True)
class Part:
    """What a download was of, recorded when its first byte is written: the remote path and
    the server's size and modification time then (None when the server did not say)."""

    remote: str
    size: int | None
    mtime: float | None


def part_sidecar(local: Path) -> Path:
    return local.with_name(local.name + PART_SUFFIX)


def load_part(local: Path, remote: str) -> Part | None:
    """The record of an interrupted download of ``remote`` into ``local``, or None."""
    try:
        raw = json.loads(part_sidecar(local).read_text("utf-8"))
        size, mtime = raw["size"], raw["mtime"]
        found = Part(str(raw["remote"]), None if size is None else int(size),
                     None if mtime is None else float(mtime))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if found.remote == remote else None


def save_part(local: Path, part: Part) -> None:
    part_sidecar(local).write_text(json.dumps(asdict(part)), "utf-8")


def clear_part(local: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        part_sidecar(local).unlink()
