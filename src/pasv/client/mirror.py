"""mirror: copy a directory tree down or up, only what changed (size, or a newer mtime)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pasv.client.client import FtpClient
from pasv.client.errors import FtpClientError, ReplyError

__all__ = ["Entry", "MirrorPlan", "local_tree", "plan", "remote_tree"]

Direction = Literal["download", "upload"]
MAX_ENTRIES = 1_000_000


@dataclass(frozen=True)
class Entry:
    """One tree entry, by its path relative to the tree's root ("a/b.txt")."""

    kind: Literal["file", "dir"]
    size: int = 0
    mtime: float = 0.0


@dataclass
class MirrorPlan:
    """What a run would do; ``copies`` are relative file paths with their source entries."""

    direction: Direction
    create_root: bool = False
    mkdirs: list[str] = field(default_factory=list)
    copies: list[tuple[str, Entry]] = field(default_factory=list)
    deletes: list[tuple[str, Entry]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files not written: a link in the way
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, why): refused
    stalled: list[str] = field(default_factory=list)  # of those, whose transfer kept stalling

    @property
    def bytes(self) -> int:
        return sum(entry.size for _, entry in self.copies)

    @property
    def empty(self) -> bool:
        return not (self.create_root or self.mkdirs or self.copies or self.deletes)


async def remote_tree(
    client: FtpClient, root: str, note: Callable[[str], None] | None = None
) -> dict[str, Entry] | None:
    """Every file and directory below ``root`` on the server (breadth first); None if no root.
    Symbolic links are left out, each said to ``note`` (default: the session log)."""
    say = note or client.status
    found: dict[str, Entry] = {}
    try:
        await client.cwd(root)
    except ReplyError as exc:
        if exc.code == 550:
            return None
        raise
    todo = [""]
    while todo:
        rel = todo.pop(0)
        for facts in await client.listdir(posixpath.join(root, rel) if rel else root):
            if len(found) >= MAX_ENTRIES:
                raise FtpClientError(f"more than {MAX_ENTRIES} entries below {root}")
            path = posixpath.join(rel, facts.name) if rel else facts.name
            if facts.kind == "dir":
                found[path] = Entry("dir", 0, facts.mtime)
                todo.append(path)
            elif facts.kind == "file":
                found[path] = Entry("file", facts.size, facts.mtime)
            elif facts.kind == "link":  # its target may be anywhere: a mirror copies no links
                say(f"Not copying {path}: it is a symbolic link on the server.")
    return found


def local_tree(root: Path) -> dict[str, Entry]:
    """Every regular file and directory below ``root`` (symbolic links are not followed)."""
    found: dict[str, Entry] = {}
    if not root.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath).relative_to(root).as_posix()
        for name in dirnames:
            rel = name if base == "." else f"{base}/{name}"
            if not (Path(dirpath) / name).is_symlink():
                found[rel] = Entry("dir", 0, (Path(dirpath) / name).stat().st_mtime)
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_symlink() or not full.is_file():
                continue
            info = full.stat()
            found[name if base == "." else f"{base}/{name}"] = Entry(
                "file", info.st_size, info.st_mtime
            )
    return found


def _changed(
    rel: str, source: Entry, target: Entry | None, tolerance: float,
    same_hash: Mapping[str, bool] | None,
) -> bool:  # fmt: skip
    if target is None or target.kind != "file" or source.size != target.size:
        return True
    if same_hash is not None:
        return not same_hash.get(rel, False)
    return source.mtime > target.mtime + tolerance


def plan(
    direction: Direction,
    source: dict[str, Entry],
    target: dict[str, Entry],
    *,
    delete: bool = False,
    tolerance: float = 2.0,
    same_hash: Mapping[str, bool] | None = None,
) -> MirrorPlan:
    """Directories to make, files to copy (new, other size, or newer), extra entries to delete.

    ``tolerance`` absorbs timestamps shown to the minute (LIST) instead of the second (MLSD).
    With ``same_hash`` (see compare_hashes) times do not count: a file of the same size is
    copied unless its entry there says the hashes agree.
    """
    result = MirrorPlan(direction)
    for rel in sorted(source):
        entry = source[rel]
        have = target.get(rel)
        if entry.kind == "dir":
            if have is None or have.kind != "dir":
                result.mkdirs.append(rel)
        elif _changed(rel, entry, have, tolerance, same_hash):
            result.copies.append((rel, entry))
    if delete:
        extra = [rel for rel in target if rel not in source or source[rel].kind != target[rel].kind]
        # deepest first, so a directory is empty when its turn comes
        for rel in sorted(extra, key=lambda r: (-r.count("/"), r)):
            result.deletes.append((rel, target[rel]))
    return result
