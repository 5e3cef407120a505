"""Whole-file transfers: resume from a partial file, then verify by hash (or by size)."""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pasv.client import checkpoint
from pasv.client.checkpoint import Checkpoint
from pasv.client.checksums import ChecksumTimeout, checksum_in_time, local_digest
from pasv.client.client import FtpClient, Progress
from pasv.client.errors import IntegrityError, ReplyError
from pasv.client.resume import download_offset, remote_mtime, upload_offset

__all__ = ["ChecksumTimeout", "TransferResult", "get_file", "put_file", "verify"]


@dataclass(frozen=True)
class TransferResult:
    """What one transfer did: bytes moved now, where it resumed, how it was checked."""

    size: int
    moved: int
    resumed_from: int
    verified_by: str


def _size(path: Path) -> int:
    """The size of a local regular file, 0 when there is none (plain def: local disk is fast)."""
    try:
        info = path.stat()
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file is written or replaced: device, inode, size, mtime (ns)."""
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _changed(source: BinaryIO, path: Path, before: tuple[int, int, int, int]) -> bool:
    """Whether the open file was written, or ``path`` replaced or removed, since ``before``."""
    try:
        return _identity(os.fstat(source.fileno())) != before or _identity(path.stat()) != before
    except OSError:
        return True


async def _verify_upload(
    client: FtpClient, remote: str, local: Path, check: bool, changed: bool
) -> str:
    """``verify`` after an upload. A local file written (or replaced) while it was being sent
    may have left the server a mix of old and new bytes: only a hash that agrees with the file
    as it is now clears it; a size, or no check, cannot tell."""
    problem = (
        f"{local} changed while it was being uploaded to {remote}; the server's copy may mix "
        "old and new bytes (upload it again once nothing writes to it)"
    )
    try:
        checked = await verify(client, remote, local) if check else "none"
    except IntegrityError:
        if changed:
            raise IntegrityError(problem) from None
        raise
    if changed and checked in ("size", "none"):
        raise IntegrityError(problem)
    return checked


class _Target:
    """The local file a download goes into, opened (and cut at ``offset``) at the first byte
    the server sends, or when the transfer ends: a refused RETR leaves the file as it was."""

    def __init__(self, path: Path, offset: int, part: checkpoint.Part | None) -> None:
        self.path = path
        self.offset = offset
        self.part = part  # recorded as the file opens: what a resume may continue
        self._file: BinaryIO | None = None

    def open(self) -> BinaryIO:
        if self._file is None:
            if self.part is not None and not self.offset:
                checkpoint.save_part(self.path, self.part)
            self._file = self.path.open("r+b" if self.offset else "wb")
            self._file.seek(self.offset)
            self._file.truncate()
        return self._file

    def write(self, data: bytes) -> None:
        self.open().write(data)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def verify(client: FtpClient, remote: str, local: Path) -> str:
    """Compare the local file with the server's by HASH/XSHA256/XMD5, else by size.

    Returns how it was checked ("sha256", "size" …); raises IntegrityError on a mismatch.
    """
    local_size = _size(local)
    unverified = f"the transfer is complete ({local_size} bytes) but not verified"
    remote_sum = await checksum_in_time(client, remote, local_size, unverified)
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
    markers: bool = False,
) -> TransferResult:
    """Download ``remote`` to ``local``, resuming with REST a partial file that pasv's own
    interrupted download of the same, unchanged remote file left (``resume.download_offset``);
    the finished file gets the server's modification time (MDTM).

    With ``markers`` in MODE B, the server's restart markers are kept (``checkpoint``) and an
    interrupted download resumes from the last one rather than from the partial file's size."""
    size = await client.size(remote)
    mtime = await remote_mtime(client, remote)
    block = markers and client.mode == "B"
    offset = download_offset(local, remote, size, mtime, client.status) if resume else 0
    rest: str | None = None
    mark = checkpoint.load(local, "get", remote) if block and offset else None
    if mark is not None and mark.local <= offset:
        offset, rest = mark.local, mark.server
    if offset and progress is not None:
        progress(offset)
    moved = 0
    if size is None or offset < size or size == 0:
        part = checkpoint.Part(remote, size, mtime) if resume else None
        out = _Target(local, offset, part)

        def seen(marker: str, received: int) -> None:
            out.flush()  # the bytes before the marker are in the file before it is recorded
            checkpoint.save(local, Checkpoint("get", remote, marker, offset + received))

        try:
            moved = await client.download(
                remote, out.write, offset=offset, progress=progress, rest=rest,
                on_marker=seen if block else None,
            )  # fmt: skip
            out.open()  # an empty file has no first byte: it is made now
        finally:
            out.close()
    if block:
        checkpoint.clear(local)
    checkpoint.clear_part(local)
    checked = await verify(client, remote, local) if check else "none"
    if mtime is not None:  # the server's time: a later change there is seen as one
        os.utime(local, (mtime, mtime))
    return TransferResult(offset + moved, moved, offset, checked)


async def put_file(
    client: FtpClient,
    local: Path,
    remote: str,
    *,
    resume: bool = True,
    check: bool = True,
    progress: Progress | None = None,
    markers: bool = False,
) -> TransferResult:
    """Upload ``local`` to ``remote``; resume after what the server has (REST+STOR, else APPE).

    With ``markers`` in MODE B, the server's ``110 MARK`` replies are kept (``checkpoint``) and
    an interrupted upload resumes from the last one: ``REST <server marker>``, our position."""
    size = _size(local)
    block = markers and client.mode == "B"
    rest: str | None = None
    mark = checkpoint.load(local, "put", remote) if block and resume else None
    if mark is not None and mark.local <= size:
        offset, rest = mark.local, mark.server
    else:
        have = (await client.size(remote) or 0) if resume else 0
        offset = await upload_offset(client, local, remote, have)
    if offset and progress is not None:
        progress(offset)

    def seen(ours: str, theirs: str) -> None:
        if ours.isdigit():
            checkpoint.save(local, Checkpoint("put", remote, theirs, int(ours)))

    moved = 0
    changed = False
    if offset < size or size == 0:
        with local.open("rb") as source:
            before = _identity(os.fstat(source.fileno()))
            source.seek(offset)
            try:
                moved = await client.upload(
                    remote, source.read, offset=offset, progress=progress, rest=rest,
                    on_mark=seen if block else None,
                )  # fmt: skip
            except ReplyError as exc:
                if not offset or exc.reply.code not in (500, 501, 502, 504, 550):
                    raise
                source.seek(offset)  # REST+STOR refused: append instead
                moved = await client.upload(remote, source.read, append=True, progress=progress)
            changed = _changed(source, local, before)
    if block:
        checkpoint.clear(local)
    checked = await _verify_upload(client, remote, local, check, changed)
    return TransferResult(offset + moved, moved, offset, checked)
