"""Test files shared by every server: one template, hard-linked or recreated per server root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.ftpclient import MIB

BIG = "big.bin"
CONC = "conc.bin"
SMALL = "small.bin"
LISTDIR = "list1000"
UPLOAD = "upload.bin"


@dataclass(frozen=True)
class Sizes:
    """Sizes, counts and time bounds of one benchmark mode."""

    big: int
    conc_size: int
    conc_clients: int
    small: int
    list_entries: int
    seconds: float
    idle_sessions: int
    parallel_logins: int
    runs: int  # rounds of the timed rate loops (logins, small RETR, LIST)
    transfer_runs: int  # rounds of the byte-moving measures, noisier on a small VM


TRANSFERS = frozenset({"retr", "stor", "concurrent", "tls_retr", "tls_stor"})


QUICK = Sizes(64 * MIB, 2 * MIB, 50, 4096, 1000, 1.0, 100, 4, 3, 3)
FULL = Sizes(1024 * MIB, 10 * MIB, 200, 4096, 1000, 5.0, 500, 4, 3, 3)  # six servers: 3 rounds


def _write(path: Path, size: int) -> None:
    """Write `size` bytes of incompressible data, reusing one random 1 MiB block."""
    if path.exists() and path.stat().st_size == size:
        return
    block = os.urandom(MIB)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, MIB)
            f.write(block[:n])
            left -= n


def make_template(root: Path, sizes: Sizes) -> Path:
    """Create the template files once; return the template directory."""
    tpl = root / "template"
    tpl.mkdir(parents=True, exist_ok=True)
    _write(tpl / BIG, sizes.big)
    _write(tpl / CONC, sizes.conc_size)
    _write(tpl / SMALL, sizes.small)
    for p in (tpl / BIG, tpl / CONC, tpl / SMALL):
        p.chmod(0o644)
    return tpl


def populate(tpl: Path, dest: Path, sizes: Sizes, owner: tuple[int, int] | None = None) -> None:
    """Give a server root the same files: big ones hard-linked, the listing dir recreated."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in (BIG, CONC, SMALL):
        target = dest / name
        if not target.exists():
            os.link(tpl / name, target)
    listdir = dest / LISTDIR
    listdir.mkdir(exist_ok=True)
    for i in range(sizes.list_entries):
        (listdir / f"file{i:04d}.txt").touch()
    if owner is not None:
        for d in (dest, listdir):
            os.chown(d, *owner)
    dest.chmod(0o755)
