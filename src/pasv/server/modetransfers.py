"""Transfers through the layer stack (MODE Z, MODE B): file -> top layer, top layer -> file.

The plain MODE S path stays in ``transfers`` (sendfile, the double-buffered receive). Here
``transfer.done`` counts file bytes (uncompressed, without block headers), so REST offsets
and MODE B positions are positions in the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import PathNotFound
from pasv.protocol.replies import make_reply
from pasv.server import datalayers
from pasv.server.datalayers import Layer, wire_bytes
from pasv.server.metering import QuotaWatch, Throttle
from pasv.server.transfers import Transfer
from pasv.storage.base import ReadHandle, WriteHandle

if TYPE_CHECKING:
    import socket

    from pasv.server.session import Session

CHUNK = 1024 * 1024

log = logging.getLogger("pasv.transfer")


@contextlib.asynccontextmanager
async def _measured(top: Layer, transfer: Transfer) -> AsyncIterator[None]:
    """Log what the mode saved (or cost): file bytes against bytes on the connection."""
    try:
        yield
    finally:
        wire = wire_bytes(top)
        if wire is not None:
            log.debug(
                "%s %s: %d file bytes, %d on the data connection (%.1f%%)",
                transfer.verb,
                transfer.path,
                transfer.done,
                wire,
                100 * wire / max(transfer.done, 1),
            )


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def send_file(
    top: Layer,
    handle: ReadHandle,
    transfer: Transfer,
    throttle: Throttle | None,
    *,
    offset: int,
    marker_every: int = 0,
) -> None:
    """Send the file from ``offset`` (where ``handle`` stands) to the size it had when it was
    opened (no further: a file that grows meanwhile would keep the download going); with
    ``marker_every`` a restart marker (the file position, in decimal) after each that many
    bytes."""
    size = CHUNK if throttle is None else throttle.chunk
    position, end = offset, handle.size
    next_mark = offset + marker_every if marker_every else 0
    async with _measured(top, transfer):
        while position < end:
            want = min(size, next_mark - position) if next_mark else size
            chunk = await handle.read(min(want, end - position))
            if not chunk:
                break
            await top.send(chunk)
            position += len(chunk)
            transfer.done += len(chunk)
            if next_mark and position >= next_mark:
                await top.mark(str(position))
                next_mark = position + marker_every
            if throttle is not None:
                await _pause(throttle.wait(len(chunk)))
        await top.finish()


async def send_bytes(top: Layer, data: bytes, transfer: Transfer) -> None:
    """Send a listing."""
    await top.send(data)
    transfer.done += len(data)
    await top.finish()


async def receive(
    top: Layer,
    handle: WriteHandle,
    transfer: Transfer,
    throttle: Throttle | None = None,
    quota: QuotaWatch | None = None,
) -> None:
    """Write what the top layer gives until its clean end (its errors end the upload: 426).

    Each piece is written before the next is asked for, so a MODE B marker is answered only
    when the data before it is in the file."""
    buffer = mmap.mmap(-1, CHUNK)
    view = memoryview(buffer)
    write_now = getattr(handle, "write_now", None)
    try:
        async with _measured(top, transfer):
            await _receive(top, view, handle, transfer, throttle, quota, write_now)
    finally:
        view.release()
        # A failing layer's frames (held by the exception in flight) may still hold slices of
        # the buffer (TYPE A passes one down); then the mapping is freed with the last of them,
        # and the upload's own error (426, 452) is what the client hears, not a BufferError.
        with contextlib.suppress(BufferError):
            buffer.close()


async def _receive(
    top: Layer,
    view: memoryview,
    handle: WriteHandle,
    transfer: Transfer,
    throttle: Throttle | None,
    quota: QuotaWatch | None,
    write_now: Callable[[memoryview], None] | None,
) -> None:
    while True:
        got = await top.recv_into(view)
        if not got:
            break
        if quota is not None:
            fits = quota.add(got)
            if fits < got:
                await handle.write(bytes(view[:fits]))
                transfer.done += fits
                raise quota.error()
        if write_now is not None:
            write_now(view[:got])
        else:
            await handle.write(bytes(view[:got]))
        transfer.done += got
        if throttle is not None:
            await _pause(throttle.wait(got))
    await top.wait_end()


async def size_before(s: Session, path: str, mode: str) -> int:
    """Where an APPE starts in the file (MODE B's 110 replies name file positions)."""
    if mode != "B":
        return 0
    try:
        return (await s.fs.stat(path)).size
    except PathNotFound:
        return 0


def upload_stack(
    s: Session, sock: socket.socket, mode: str, start: int, transfer: Transfer
) -> datalayers.Layer:
    """An upload's layers; under MODE B each client marker is answered with RFC 959's
    ``110 MARK yyyy = mmmm`` once the data before it is written (mmmm: our file position)."""

    async def on_marker(marker: str) -> None:
        position = start + transfer.done
        s.control.send(make_reply(ReplyCode.RESTART_MARKER, f"MARK {marker} = {position}"))

    level = s.deflate_level
    return datalayers.build(sock, mode, ascii_mode=s.ascii, level=level, on_marker=on_marker)
