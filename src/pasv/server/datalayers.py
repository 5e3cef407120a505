"""Data connections as a stack of small stream layers: socket, TLS, MODE Z, MODE B, TYPE A.

Every layer has the same few methods: ``recv_into`` (0 at the end of the data *by this layer's
rule*), ``send``, ``mark`` (a restart point, meaningful to MODE B only), ``finish`` (write this
layer's end of data, then the lower layer's) and ``wait_end`` (after this layer's end, let the
lower connection end too). A transfer talks to the top layer only. The layers' ends:

- socket: a FIN; TLS: the client's close_notify (a FIN or a reset without it is ``RaggedEnd``);
- MODE Z: the end of the deflate stream (its Adler-32 checked by zlib); a connection that ends
  before it, or bytes after it, stop the transfer with 426;
- MODE B: the EOF descriptor; a connection that ends before it, or a bad block header, 426.

So under MODE Z and MODE B the upper layer's own end proves the data whole; the plain binary
MODE S path keeps its own fast branch in ``transfers`` (sendfile, double-buffered receive).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable

from pasv.protocol import blockmode
from pasv.protocol.ascii import FromNetwork, ToNetwork
from pasv.protocol.deflate import AdaptiveDeflater
from pasv.protocol.errors import TransferAborted
from pasv.server import tlsdata

Buffer = bytes | bytearray | memoryview
OnMarker = Callable[[str], Awaitable[None]]

READ = 256 * 1024
END_WAIT = 2.0  # after the top layer's end, how long the peer may take to close
# Deflating 1 MiB at level 6 takes 20-50 ms here: longer pieces are compressed in a worker
# thread so that other sessions' replies do not wait behind it.
_DEFLATE_INLINE = 64 * 1024


class Layer:
    """The base: a layer over ``lower`` that passes everything through."""

    __slots__ = ("lower",)

    def __init__(self, lower: Layer | None) -> None:
        self.lower = lower

    async def recv_into(self, view: memoryview) -> int:
        assert self.lower is not None
        return await self.lower.recv_into(view)

    async def send(self, data: Buffer) -> None:
        assert self.lower is not None
        await self.lower.send(data)

    async def mark(self, marker: str) -> None:
        if self.lower is not None:
            await self.lower.mark(marker)

    async def finish(self) -> None:
        if self.lower is not None:
            await self.lower.finish()

    async def wait_end(self) -> None:
        if self.lower is not None:
            await self.lower.wait_end()


class SocketLayer(Layer):
    """A plain TCP data connection."""

    __slots__ = ("_loop", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(None)
        self._sock = sock
        self._loop = asyncio.get_running_loop()

    async def recv_into(self, view: memoryview) -> int:
        return await self._loop.sock_recv_into(self._sock, view)

    async def send(self, data: Buffer) -> None:
        await self._loop.sock_sendall(self._sock, data)


class TlsLayer(Layer):
    """TLS on the data connection (``tlsdata``): the end of data is the client's close_notify."""

    __slots__ = ("_sock", "ended")

    def __init__(self, sock: ssl.SSLSocket) -> None:
        super().__init__(None)
        self._sock = sock
        self.ended = ""  # how the client's TLS ended, once it did (for the upload's log line)

    async def recv_into(self, view: memoryview) -> int:
        try:
            got = await tlsdata.recv_into(self._sock, view)
        except tlsdata.RaggedEnd:
            self.ended = "without close_notify"
            raise
        if not got:
            self.ended = "with close_notify"
        return got

    async def send(self, data: Buffer) -> None:
        await tlsdata.sendall(self._sock, data)


async def _lower_end(lower: Layer, what: str) -> None:
    """Read the lower layer to its end (bounded); bytes there are a protocol error."""
    scratch = memoryview(bytearray(4096))
    with contextlib.suppress(TimeoutError, tlsdata.RaggedEnd, OSError):
        async with asyncio.timeout(END_WAIT):
            got = await lower.recv_into(scratch)
            if got:
                raise TransferAborted(f"Data after the end of the {what}; transfer refused.")


class DeflateLayer(Layer):
    """MODE Z: one zlib (RFC 1950) deflate stream per transfer, as lftp and ProFTPD use; data
    that does not shrink goes in stored blocks (``protocol.deflate``)."""

    __slots__ = ("_comp", "_decomp", "_ended", "_raw", "_tail", "wire")

    def __init__(self, lower: Layer, level: int) -> None:
        super().__init__(lower)
        self._comp = AdaptiveDeflater(level)
        self._decomp = zlib.decompressobj()
        self._raw = bytearray(READ)
        self._tail = b""  # compressed bytes the last decompress call could not use yet
        self._ended = False
        self.wire = 0  # compressed bytes sent or received

    async def recv_into(self, view: memoryview) -> int:
        assert self.lower is not None
        while True:
            if self._ended:
                return 0
            if self._tail:
                # max_length bounds what one call inflates: no bomb can outgrow the buffer
                try:
                    out = self._decomp.decompress(self._tail, len(view))
                except zlib.error as exc:
                    raise TransferAborted(
                        f"Corrupt compressed (MODE Z) data: {exc}; the file is incomplete."
                    ) from None
                self._tail = self._decomp.unconsumed_tail
                if self._decomp.eof:
                    self._ended = True
                    if self._decomp.unused_data:
                        raise TransferAborted(
                            "Data after the end of the compressed stream; transfer refused."
                        )
                if out:
                    view[: len(out)] = out
                    return len(out)
                continue
            try:
                got = await self.lower.recv_into(memoryview(self._raw))
            except tlsdata.RaggedEnd:
                got = -1
            if got <= 0:
                raise TransferAborted(
                    "The data connection ended before the end of the compressed (MODE Z) "
                    "stream; the file is incomplete."
                )
            self._tail = bytes(self._raw[:got])
            self.wire += got

    async def send(self, data: Buffer) -> None:
        assert self.lower is not None
        if len(data) >= _DEFLATE_INLINE:  # zlib lets go of the GIL: the loop serves others
            out = await asyncio.to_thread(self._comp.compress, data)
        else:
            out = self._comp.compress(data)
        if out:
            self.wire += len(out)
            await self.lower.send(out)

    async def finish(self) -> None:
        assert self.lower is not None
        tail = self._comp.finish()
        self.wire += len(tail)
        await self.lower.send(tail)
        await self.lower.finish()

    async def wait_end(self) -> None:
        assert self.lower is not None
        await _lower_end(self.lower, "compressed stream")


class BlockLayer(Layer):
    """MODE B: data blocks, restart-marker blocks, the EOF block.

    Sending, ``mark`` writes a marker block. Receiving, a marker is reported to ``on_marker``
    only once the data before it has been handed up (and so written by the caller)."""

    __slots__ = ("_decoder", "_done", "_events", "_on_marker", "_pending", "_raw", "wire")

    def __init__(self, lower: Layer, on_marker: OnMarker | None = None) -> None:
        super().__init__(lower)
        self._decoder = blockmode.BlockDecoder()
        self._on_marker = on_marker
        self._raw = bytearray(READ)
        self._events: list[blockmode.Event] = []
        self._pending = memoryview(b"")  # data of a block not yet handed up
        self._done = False
        self.wire = 0  # bytes sent or received, headers included

    async def recv_into(self, view: memoryview) -> int:
        assert self.lower is not None
        while True:
            if self._done:
                return 0
            if self._pending:
                n = min(len(view), len(self._pending))
                view[:n] = self._pending[:n]
                self._pending = self._pending[n:]
                return n
            if self._events:
                event = self._events.pop(0)
                if isinstance(event, blockmode.Data):
                    self._pending = memoryview(event.data)
                elif isinstance(event, blockmode.Marker):
                    if self._on_marker is not None:
                        await self._on_marker(event.marker)
                else:
                    self._done = True  # the EOF descriptor
                continue
            try:
                got = await self.lower.recv_into(memoryview(self._raw))
            except tlsdata.RaggedEnd:
                got = 0
            self.wire += got
            try:
                if got == 0:
                    self._decoder.check_end()
                self._events = self._decoder.feed(memoryview(self._raw)[:got])
            except blockmode.BadBlock as exc:
                raise TransferAborted(f"MODE B: {exc}; the file is incomplete.") from None

    async def send(self, data: Buffer) -> None:
        assert self.lower is not None
        if data:
            await self._out(b"".join(blockmode.encode_data(data)))

    async def mark(self, marker: str) -> None:
        await self._out(blockmode.encode_marker(marker))

    async def finish(self) -> None:
        assert self.lower is not None
        await self._out(blockmode.encode_eof())
        await self.lower.finish()

    async def _out(self, raw: bytes) -> None:
        assert self.lower is not None
        self.wire += len(raw)
        await self.lower.send(raw)

    async def wait_end(self) -> None:
        assert self.lower is not None
        await _lower_end(self.lower, "MODE B stream (its EOF block)")


class AsciiLayer(Layer):
    """TYPE A: LF in files, CRLF on the wire."""

    __slots__ = ("_from", "_to")

    def __init__(self, lower: Layer) -> None:
        super().__init__(lower)
        self._to, self._from = ToNetwork(), FromNetwork()

    async def recv_into(self, view: memoryview) -> int:
        assert self.lower is not None
        while True:
            got = await self.lower.recv_into(view[: len(view) - 1])  # a held CR may come back
            data = self._from.feed(bytes(view[:got])) if got else self._from.flush()
            if data or not got:
                view[: len(data)] = data
                return len(data)

    async def send(self, data: Buffer) -> None:
        assert self.lower is not None
        out = self._to.feed(bytes(data))
        if out:
            await self.lower.send(out)

    async def mark(self, marker: str) -> None:
        assert self.lower is not None
        held = self._to.flush()
        if held:
            await self.lower.send(held)
        await self.lower.mark(marker)

    async def finish(self) -> None:
        assert self.lower is not None
        held = self._to.flush()
        if held:
            await self.lower.send(held)
        await self.lower.finish()


def tls_end(top: Layer) -> str | None:
    """How the TLS below ended ("with close_notify" …), "" if not seen; None: no TLS."""
    layer: Layer | None = top
    while layer is not None:
        if isinstance(layer, TlsLayer):
            return layer.ended
        layer = layer.lower
    return None


def wire_bytes(top: Layer) -> int | None:
    """The bytes the mode layer moved on the connection (compressed, or with block headers)."""
    layer: Layer | None = top
    while layer is not None:
        if isinstance(layer, DeflateLayer | BlockLayer):
            return layer.wire
        layer = layer.lower
    return None


def build(
    sock: socket.socket,
    mode: str,
    *,
    ascii_mode: bool,
    level: int = 6,
    on_marker: OnMarker | None = None,
) -> Layer:
    """The stack for one data connection: socket or TLS, then the mode, then TYPE A."""
    top: Layer = TlsLayer(sock) if isinstance(sock, ssl.SSLSocket) else SocketLayer(sock)
    if mode == "Z":
        top = DeflateLayer(top, level)
    elif mode == "B":
        top = BlockLayer(top, on_marker)
    if ascii_mode:
        top = AsciiLayer(top)
    return top
