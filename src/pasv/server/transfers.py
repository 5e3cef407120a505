"""Moving bytes on a data connection: sendfile for downloads, double-buffered uploads, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pasv.protocol.ascii import FromNetwork, ToNetwork
from pasv.server import tlsdata
from pasv.server.metering import QuotaWatch, Throttle
from pasv.server.spliced import receive_spliced
from pasv.storage.base import ReadHandle, WriteHandle

log = logging.getLogger("pasv.transfer")

T = TypeVar("T")

CHUNK = 1024 * 1024
# An upload writes into the page cache inline (no thread hop, 2x faster here) until one write
# blocks longer than this — the kernel is throttling us to the disk's speed; then the rest of that
# upload is written from a worker thread. (Single writes of 5-10 ms happen under memory reclaim
# without any lasting pressure; switching on those cost 40% of the speed in a third of uploads.)
_SLOW_WRITE = 0.05
# Downloads under TLS read inline likewise, until one read takes longer than this.
_SLOW_READ = 0.05
# TLS hands over one 16 KiB record per read and the socket runs empty far more often than in
# clear: writing whatever is in hand at each such pause meant many small writes (-30% speed).
_TLS_FLUSH_AT_PAUSE = 128 * 1024
# A fast upload yields to other sessions after this many buffer flushes (8 MiB); yielding after
# every flush halved upload speed.
_FLUSHES_PER_TURN = 16


def _buffer(size: int) -> mmap.mmap:
    """A transfer buffer whose pages cost memory only once bytes land in them.

    ``bytearray(size)`` zero-fills, so each upload held 2 MiB resident from its first byte (500
    concurrent uploads of small files: 400 MiB); an anonymous mapping starts untouched.
    """
    return mmap.mmap(-1, size)


class Aborted(Exception):
    """The client (ABOR) or a lost control connection stopped the transfer."""


class Transfer:
    """One running transfer: what moves where, how far it got, and how to stop it.

    The transfer runs in its command's own task (no extra task per transfer). ``abort`` cancels
    that task only while it waits inside ``guard`` — the data connect or the byte mover — so a
    cancellation can never land anywhere else in the handler.
    """

    __slots__ = (
        "confirmed",
        "direction",
        "done",
        "guarded",
        "path",
        "reason",
        "seen",
        "started",
        "task",
        "total",
        "verb",
    )

    def __init__(
        self,
        verb: str,
        direction: str,
        path: str,
        total: int | None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.verb = verb
        self.direction = direction  # "o" download, "i" upload (xferlog letters)
        self.path = path
        self.total = total
        self.done = 0
        self.confirmed = True  # False: answered 226 for an end that could not prove the size
        self.started = time.monotonic()
        # the task is the loop's current one; naming the loop spares a getpid() (Python 3.11)
        self.task: asyncio.Task[Any] | None = asyncio.current_task(loop)
        self.guarded = False
        self.reason = ""
        self.seen = (-1, self.started)  # bytes done when the reaper last looked, and when

    def check_stall(self, now: float, limit: float, reason: str) -> None:
        """Abort (for ``reason``) when no byte moved for ``limit`` seconds (the reaper calls
        this)."""
        if self.done != self.seen[0]:
            self.seen = (self.done, now)
        elif limit and now - self.seen[1] >= limit:
            self.abort(reason)

    def abort(self, reason: str) -> None:
        self.reason = self.reason or reason
        if self.guarded and self.task is not None:
            self.task.cancel()

    async def guard(self, work: Awaitable[T]) -> T:
        """Await ``work``; an abort meanwhile raises ``Aborted`` (and nothing else is cancelled)."""
        self.guarded = True
        try:
            return await work
        except asyncio.CancelledError:
            if not self.reason or self.task is None:
                raise  # a real cancellation (the server is stopping)
            self.task.uncancel()
            raise Aborted(self.reason) from None
        finally:
            self.guarded = False

    def status(self) -> str:
        """One line for STAT during the transfer."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed / 1e6
        if self.total:
            part = f"{self.done} of {self.total} bytes ({100 * self.done // max(self.total, 1)}%)"
        else:
            part = f"{self.done} bytes"
        return f"{self.verb} {self.path}: {part}, {rate:.1f} MB/s, {elapsed:.0f}s elapsed"


class FairShare:
    """Splits one event-loop turn's sendfile budget among the downloads running in a process:
    a lone download moves up to 1 MiB per call; 200 at once move 256 KiB each, so a turn stays
    short (a few ms) and control replies keep flowing. 256 KiB rather than 64: 200 concurrent
    downloads went from 0.9x to 1.2x pyftpdlib's aggregate with less server CPU; 512 KiB gained
    nothing more (docs/architecture.md, "The bench on a small VM")."""

    __slots__ = ("active",)

    BUDGET = 8 * 1024 * 1024
    FLOOR = 256 * 1024
    CEILING = 1024 * 1024

    def __init__(self) -> None:
        self.active = 0

    def turn(self) -> int:
        return max(self.FLOOR, min(self.CEILING, self.BUDGET // max(1, self.active)))


class _SendfilePump:
    """Moves file pages to a socket from a writer callback: one bounded sendfile each time the
    socket has room, and no coroutine step in between (per-call Python work is what limits many
    concurrent downloads)."""

    __slots__ = (
        "_end",
        "_loop",
        "_out",
        "_share",
        "_source",
        "_throttle",
        "done",
        "offset",
        "transfer",
    )

    def __init__(
        self,
        sock: socket.socket,
        source: int,
        offset: int,
        end: int,
        transfer: Transfer,
        share: FairShare,
        throttle: Throttle | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._out, self._source, self.offset, self._end = sock.fileno(), source, offset, end
        self.transfer, self._share, self._throttle = transfer, share, throttle
        self.done: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_writer(self._out, self._step)

    def _step(self) -> None:
        count = min(self._end - self.offset, self._share.turn())
        if self._throttle is not None:
            count = min(count, self._throttle.chunk)
        try:
            sent = os.sendfile(self._out, self._source, self.offset, count)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finish(exc)
            return
        self.offset += sent
        self.transfer.done += sent
        if sent == 0 or self.offset >= self._end:  # done, or the file shrank under us
            self._finish(None)
        elif self._throttle is not None:
            wait = self._throttle.wait(sent)
            if wait > 0:  # over the rate: stop writing until the budget has refilled
                self._loop.remove_writer(self._out)
                self._loop.call_later(wait, self._resume)

    def _resume(self) -> None:
        if self._out >= 0:
            self._loop.add_writer(self._out, self._step)

    def _finish(self, error: OSError | None) -> None:
        self.stop()
        if not self.done.done():
            if error is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(error)

    def stop(self) -> None:
        if self._out >= 0:
            self._loop.remove_writer(self._out)
            self._out = -1


async def sendfile(
    sock: socket.socket,
    handle: ReadHandle,
    offset: int,
    transfer: Transfer,
    share: FairShare,
    throttle: Throttle | None = None,
) -> None:
    """Zero-copy: the kernel moves file pages to the socket.

    One bounded sendfile (see FairShare) per turn of the event loop: a transfer that kept calling
    while the socket had room would hold the loop for the whole socket buffer (megabytes), and
    every other session's replies would wait behind it (measured: 150 replies delayed by 250 ms
    with 200 concurrent downloads, against 3 ms now).
    """
    source = handle.descriptor
    assert source is not None
    end = handle.size
    if offset >= end:
        return
    if throttle is None:  # the first step inline: a small file goes in one call, no writer
        try:
            sent = os.sendfile(sock.fileno(), source, offset, min(end - offset, share.turn()))
        except (BlockingIOError, InterruptedError):
            sent = -1  # no room yet: the pump waits for it
        if sent == 0:  # the file shrank under us
            return
        if sent > 0:
            offset += sent
            transfer.done += sent
            if offset >= end:
                return
    if throttle is None:  # full segments only (the tail goes with the close): +20-25% unpinned
        with contextlib.suppress(OSError):  # not TCP (a test's socket pair)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    pump = _SendfilePump(sock, source, offset, end, transfer, share, throttle)
    share.active += 1
    try:
        await pump.done
    finally:
        share.active -= 1
        pump.stop()


async def send_stream(
    sock: socket.socket,
    handle: ReadHandle,
    transfer: Transfer,
    encoder: ToNetwork | None,
    throttle: Throttle | None = None,
    *,
    count: int,
) -> None:
    """Read and send ``count`` bytes in chunks (fewer if the file ends first): TYPE A, or storage
    without a real file. No more than that, as sendfile: a file that grows meanwhile (a log)
    would keep a download going for as long as it is written."""
    size = CHUNK if throttle is None else throttle.chunk
    while count > 0:
        chunk = await handle.read(min(size, count))
        if not chunk:
            break
        count -= len(chunk)
        transfer.done += len(chunk)
        await sendall(sock, encoder.feed(chunk) if encoder else chunk)
        if throttle is not None:
            await _pause(throttle.wait(len(chunk)))
    if encoder is not None:
        tail = encoder.flush()
        if tail:
            await sendall(sock, tail)


async def send_file_tls(
    sock: ssl.SSLSocket,
    handle: ReadHandle,
    offset: int,
    transfer: Transfer,
    throttle: Throttle | None = None,
) -> None:
    """A binary download under TLS (no sendfile: the bytes must pass through OpenSSL).

    1 MiB per read and per encrypting send, so Python runs a few steps per MiB. The file is read
    inline (page cache) until one read is slow; from then on from a worker thread.
    """
    fd = handle.descriptor
    assert fd is not None
    position, end = offset, handle.size
    size = CHUNK if throttle is None else throttle.chunk
    buffer = _buffer(size)
    inline = True
    while position < end:
        view = memoryview(buffer)[: min(size, end - position)]
        if inline:
            started = time.perf_counter()
            got = os.preadv(fd, [view], position)
            inline = time.perf_counter() - started < _SLOW_READ
        else:
            got = await asyncio.to_thread(os.preadv, fd, [view], position)
        if got == 0:  # the file shrank under us
            break
        await tlsdata.sendall(sock, view[:got])
        position += got
        transfer.done += got
        if throttle is not None:
            await _pause(throttle.wait(got))


async def sendall(sock: socket.socket, data: bytes | bytearray | memoryview) -> None:
    """Send all of ``data`` on a plain or a TLS data connection."""
    if isinstance(sock, ssl.SSLSocket):
        await tlsdata.sendall(sock, data)
    else:
        await asyncio.get_running_loop().sock_sendall(sock, data)


async def send_bytes(sock: socket.socket, data: bytes, transfer: Transfer) -> None:
    """Send a listing."""
    await sendall(sock, data)
    transfer.done += len(data)


async def _pause(seconds: float) -> None:
    """Hold a rate-limited transfer until its byte budget has refilled."""
    if seconds > 0:
        await asyncio.sleep(seconds)


def close(sock: socket.socket) -> None:
    """Close a data connection (a TLS one with its close_notify)."""
    if isinstance(sock, ssl.SSLSocket):
        tlsdata.close(sock)
    else:
        sock.close()


def _try_recv_plain(sock: socket.socket, view: memoryview) -> int | None:
    try:
        return sock.recv_into(view)
    except BlockingIOError:
        return None


async def receive(
    sock: socket.socket,
    handle: WriteHandle,
    transfer: Transfer,
    decoder: FromNetwork | None,
    throttle: Throttle | None = None,
    quota: QuotaWatch | None = None,
) -> bool:
    """Receive into two alternating buffers; with threaded writes one is written while the
    other fills. True when the data ended cleanly: a FIN in clear, a close_notify under TLS
    (False: a TLS connection ended without one, see ``tlsdata``).

    A buffer is written when it is half full, or as soon as the socket has nothing more to give
    (so a slow upload reaches the disk promptly, and a fast one in large writes). Whatever arrived
    is written even when the connection breaks, so the upload can be resumed.
    """
    write_now = getattr(handle, "write_now", None)  # a local file: page-cache writes are fast
    splicer = getattr(handle, "splicer", None)  # a local file: os.splice into it
    splice = splicer() if splicer is not None else None
    plain = decoder is None and throttle is None and quota is None
    if splice is not None and plain and not isinstance(sock, ssl.SSLSocket):
        if await receive_spliced(sock, splice, transfer):
            return True
        write_now = None  # the disk is slow: the rest from a worker thread
    loop = asyncio.get_running_loop()
    buffers = (_buffer(CHUNK), _buffer(CHUNK))
    which = 0
    pending: asyncio.Future[None] | None = None
    filled = 0
    view = memoryview(buffers[which])

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
            took = time.perf_counter() - started
            if took > _SLOW_WRITE:
                write_now = None  # the disk is under pressure: keep it off the event loop
                log.debug(
                    "%s %s: a write took %.0f ms; writing from a thread now",
                    transfer.verb,
                    transfer.path,
                    took * 1000,
                )
        else:
            pending = asyncio.ensure_future(handle.write(data))
        filled = 0
        which ^= 1
        view = memoryview(buffers[which])

    try_recv: Callable[[socket.socket, memoryview], int | None] = _try_recv_plain
    recv: Callable[[socket.socket, memoryview], Awaitable[int]] = loop.sock_recv_into
    flush_at_pause = 1  # plain: the sender paused, write what we have
    if isinstance(sock, ssl.SSLSocket):
        try_recv, recv = tlsdata.try_recv_into, tlsdata.recv_into
        flush_at_pause = _TLS_FLUSH_AT_PAUSE
    since_yield = 0
    step = CHUNK if throttle is None else throttle.chunk
    clean = True
    try:
        while True:
            try:
                got = try_recv(sock, view[filled : filled + step])  # what is there already
                if got is None:
                    if filled >= flush_at_pause:
                        await flush()
                    got = await recv(sock, view[filled : filled + step])
            except tlsdata.RaggedEnd:
                clean = False
                break
            if not got:
                break
            if quota is not None:
                fits = quota.add(got)
                if fits < got:  # keep what fits in the quota, then stop
                    filled += fits
                    transfer.done += fits
                    raise quota.error()
            filled += got
            transfer.done += got
            if throttle is not None:
                await _pause(throttle.wait(got))
            if filled >= CHUNK // 2:
                await flush()
                since_yield += 1
                if since_yield >= _FLUSHES_PER_TURN:  # a fast sender never blocks us: let
                    since_yield = 0  # other sessions have a turn now and then
                    await asyncio.sleep(0)
        if filled:
            await flush()
        if decoder is not None:
            tail = decoder.flush()
            if tail:
                await handle.write(tail)
        return clean
    finally:
        if pending is not None:
            await asyncio.shield(pending)
        if filled:  # the connection broke or the transfer was aborted with bytes in hand
            data = bytes(view[:filled])
            await asyncio.shield(handle.write(decoder.feed(data) if decoder else data))
