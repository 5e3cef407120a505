"""Moving bytes on a data connection: sendfile for downloads, double-buffered uploads."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from pasv.protocol.ascii import FromNetwork, ToNetwork
from pasv.storage.base import ReadHandle, WriteHandle

CHUNK = 1024 * 1024
_SENDFILE_MAX = 0x7FFFF000
# An upload writes into the page cache inline (no thread hop, 2x faster here) until one write
# takes longer than this; then the rest of that upload is written from a worker thread.
_SLOW_WRITE = 0.005


class Transfer:
    """One running transfer: what moves where, how far it got, and how to stop it."""

    __slots__ = ("direction", "done", "io", "path", "reason", "started", "total", "verb")

    def __init__(self, verb: str, direction: str, path: str, total: int | None) -> None:
        self.verb = verb
        self.direction = direction  # "o" download, "i" upload (xferlog letters)
        self.path = path
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.io: asyncio.Future[Any] | None = None  # the data connect, then the byte mover
        self.reason = ""

    def abort(self, reason: str) -> None:
        self.reason = reason
        if self.io is not None and not self.io.done():
            self.io.cancel()

    def status(self) -> str:
        """One line for STAT during the transfer."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed / 1e6
        if self.total:
            part = f"{self.done} of {self.total} bytes ({100 * self.done // max(self.total, 1)}%)"
        else:
            part = f"{self.done} bytes"
        return f"{self.verb} {self.path}: {part}, {rate:.1f} MB/s, {elapsed:.0f}s elapsed"


class _Writable:
    """Wakes a sender when the socket has room: registered once per transfer, not per wait
    (with uvloop, adding and removing a writer each time costs as much as the sendfile)."""

    __slots__ = ("_fd", "_loop", "_waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop, self._fd = loop, fd
        self._waiter: asyncio.Future[None] | None = None
        loop.add_writer(fd, self._wake)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        self._waiter = self._loop.create_future()
        await self._waiter

    def close(self) -> None:
        self._loop.remove_writer(self._fd)


async def sendfile(
    sock: socket.socket, handle: ReadHandle, offset: int, transfer: Transfer
) -> None:
    """Zero-copy: the kernel moves file pages to the socket; we only wait for room."""
    assert handle.file is not None
    out, source = sock.fileno(), handle.file.fileno()
    end = handle.size
    writable: _Writable | None = None
    try:
        while offset < end:
            try:
                sent = os.sendfile(out, source, offset, min(end - offset, _SENDFILE_MAX))
            except BlockingIOError:
                if writable is None:
                    writable = _Writable(asyncio.get_running_loop(), out)
                await writable.wait()
                continue
            if sent == 0:
                break  # the file shrank under us
            offset += sent
            transfer.done += sent
    finally:
        if writable is not None:
            writable.close()


async def send_stream(
    sock: socket.socket, handle: ReadHandle, transfer: Transfer, encoder: ToNetwork | None
) -> None:
    """Read and send chunks: TYPE A, or storage without a real file."""
    loop = asyncio.get_running_loop()
    while True:
        chunk = await handle.read(CHUNK)
        if not chunk:
            break
        transfer.done += len(chunk)
        await loop.sock_sendall(sock, encoder.feed(chunk) if encoder else chunk)
    if encoder is not None:
        tail = encoder.flush()
        if tail:
            await loop.sock_sendall(sock, tail)


async def send_bytes(sock: socket.socket, data: bytes, transfer: Transfer) -> None:
    """Send a listing."""
    await asyncio.get_running_loop().sock_sendall(sock, data)
    transfer.done += len(data)


async def receive(
    sock: socket.socket, handle: WriteHandle, transfer: Transfer, decoder: FromNetwork | None
) -> None:
    """Receive into two alternating buffers; with threaded writes one is written while the
    other fills.

    A buffer is written when it is half full, or as soon as the socket has nothing more to give
    (so a slow upload reaches the disk promptly, and a fast one in large writes). Whatever arrived
    is written even when the connection breaks, so the upload can be resumed.
    """
    loop = asyncio.get_running_loop()
    buffers = (bytearray(CHUNK), bytearray(CHUNK))
    which = 0
    pending: asyncio.Future[None] | None = None
    filled = 0
    view = memoryview(buffers[which])

    write_now = getattr(handle, "write_now", None)  # a local file: page-cache writes are fast

    async def flush() -> None:
        nonlocal pending, filled, which, view, write_now
        data: bytes | memoryview = view[:filled]
        if decoder is not None:
            data = decoder.feed(bytes(data))
        if pending is not None:
            await pending
            pending = None
        if write_now is not None:
            started = time.perf_counter()
            write_now(data)
            if time.perf_counter() - started > _SLOW_WRITE:
                write_now = None  # the disk is under pressure: keep it off the event loop
        else:
            pending = asyncio.ensure_future(handle.write(data))
        filled = 0
        which ^= 1
        view = memoryview(buffers[which])

    try:
        while True:
            try:
                got = sock.recv_into(view[filled:])  # non-blocking: what is there already
            except BlockingIOError:
                if filled:
                    await flush()  # the sender paused: write what we have
                got = await loop.sock_recv_into(sock, view[filled:])
            if not got:
                break
            filled += got
            transfer.done += got
            if filled >= CHUNK // 2:
                await flush()
        if filled:
            await flush()
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                await handle.write(tail)
    finally:
        if pending is not None:
            await asyncio.shield(pending)
        if filled:  # the connection broke or the transfer was aborted with bytes in hand
            data = bytes(view[:filled])
            await asyncio.shield(handle.write(decoder.feed(data) if decoder else data))
