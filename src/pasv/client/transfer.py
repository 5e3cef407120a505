"""Whole-file transfers: resume from a partial file, then verify by hash (or by size)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pasv.client.checksums import local_digest, server_checksum
from pasv.client.client import FtpClient, Progress
from pasv.client.errors import IntegrityError, ReplyError

__all__ = ["TransferResult", "get_file", "put_file", "verify"]


@dataclass(frozen=True)
class TransferResult:
    """What one transfer did: bytes moved now, where it resumed, how it was checked."""

    size: int
    moved: int
    resumed_from: int
    verified_by: str


def _size(path: Path) -> int:
    """The size of a local regular file, 0 when there is none (plain def: local disk is fast)."""
    return path.stat().st_size if path.is_file() else 0


def _open_target(path: Path, offset: int) -> tuple[BinaryIO, bool]:
    """The local file to download into, positioned at ``offset``; and whether it is new."""
    new = not path.exists()
    out = path.open("r+b" if offset else "wb")
    out.seek(offset)
    out.truncate()
    return out, new


def _discard_if_empty(path: Path) -> None:
    if _size(path) == 0:
        path.unlink()


async def verify(client: FtpClient, remote: str, local: Path) -> str:
    """Compare the local file with the server's by HASH/XSHA256/XMD5, else by size.

    Returns how it was checked ("sha256", "size" …); raises IntegrityError on a mismatch.
    """
    local_size = _size(local)
    remote_sum = await server_checksum(client, remote)
    if remote_sum is not None:
        algorithm, expected = remote_sum
        if await asyncio.to_thread(local_digest, local, algorithm) != expected:
            raise IntegrityError(f"{remote}: {algorithm} differs between server and {local}")
        return algorithm
    remote_size = await client.size(remote)
    if remote_size is None:
        return "none"
    if remote_size != local_size:
        raise IntegrityError(f"{remote}: server has {remote_size} bytes, {local} {local_size}")
    return "size"


async def get_file(
    client: FtpClient,
    remote: str,
    local: Path,
    *,
    resume: bool = True,
    check: bool = True,
    progress: Progress | None = None,
) -> TransferResult:
    """Download ``remote`` to ``local``, resuming with REST when a shorter partial file exists."""
    size = await client.size(remote)
    have = _size(local) if resume else 0
    offset = have if size is not None and 0 < have <= size else 0
    if offset and progress is not None:
        progress(offset)
    moved = 0
    if size is None or offset < size or size == 0:
        out, new = _open_target(local, offset)
        try:
            with out:
                moved = await client.download(remote, out.write, offset=offset, progress=progress)
        except ReplyError:
            if new:
                _discard_if_empty(local)  # refused before any byte: leave nothing behind
            raise
    checked = await verify(client, remote, local) if check else "none"
    return TransferResult(offset + moved, moved, offset, checked)


async def put_file(
    client: FtpClient,
    local: Path,
    remote: str,
    *,
    resume: bool = True,
    check: bool = True,
    progress: Progress | None = None,
) -> TransferResult:
    """Upload ``local`` to ``remote``; resume after what the server has (REST+STOR, else APPE)."""
    size = _size(local)
    have = (await client.size(remote) or 0) if resume else 0
    offset = have if 0 < have <= size else 0
    if offset and progress is not None:
        progress(offset)
    moved = 0
    if offset < size or size == 0:
        with local.open("rb") as source:
            source.seek(offset)
            try:
                moved = await client.upload(remote, source.read, offset=offset, progress=progress)
            except ReplyError as exc:
                if not offset or exc.reply.code not in (500, 501, 502, 504, 550):
                    raise
                source.seek(offset)  # REST+STOR refused: append instead
                moved = await client.upload(remote, source.read, append=True, progress=progress)
    checked = await verify(client, remote, local) if check else "none"
    return TransferResult(offset + moved, moved, offset, checked)
