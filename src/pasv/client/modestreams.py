"""MODE Z and MODE B on the client: wrappers with DataStream's read/write/finish/close.

Each has its own end of data: the end of the deflate stream (MODE Z) or the EOF block
(MODE B). A connection that ends before it is a broken transfer (``DataChannelError``), never
a complete one; ``finish`` writes that end after an upload, ``close`` alone does not.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from pasv.client.errors import DataChannelError
from pasv.client.streams import DataStream
from pasv.protocol import blockmode
from pasv.protocol.deflate import AdaptiveDeflater

__all__ = ["BlockStream", "DeflateStream", "OnMarker"]

OnMarker = Callable[[str], None]
MAX_OUT = 1024 * 1024  # what one inflate step may produce (no bomb outgrows it)


class DeflateStream:
    """MODE Z: one zlib deflate stream per transfer."""

    def __init__(self, inner: DataStream, level: int = 6) -> None:
        self._inner = inner
        self._comp = AdaptiveDeflater(level)
        self._decomp = zlib.decompressobj()
        self._tail = b""

    @property
    def session_reused(self) -> bool:
        return self._inner.session_reused

    async def read(self) -> bytes:
        while True:
            if self._decomp.eof:
                if self._decomp.unused_data:
                    raise DataChannelError("MODE Z: bytes after the end of the compressed stream")
                return b""
            if self._tail:
                try:
                    out = self._decomp.decompress(self._tail, MAX_OUT)
                except zlib.error as exc:
                    raise DataChannelError(f"MODE Z: corrupt compressed data ({exc})") from None
                self._tail = self._decomp.unconsumed_tail
                if out:
                    return out
                continue
            self._tail = await self._inner.read()
            if not self._tail:
                raise DataChannelError(
                    "MODE Z: the data connection ended before the end of the compressed stream"
                )

    async def write(self, data: bytes | memoryview) -> None:
        out = self._comp.compress(data)
        if out:
            await self._inner.write(out)

    async def mark(self, marker: str) -> None:
        """Restart markers exist in MODE B only."""

    async def finish(self) -> None:
        await self._inner.write(self._comp.finish())

    async def close(self) -> None:
        await self._inner.close()


class BlockStream:
    """MODE B: data blocks, restart markers (reported to ``on_marker`` after the data before
    them was returned by ``read``), and the EOF block."""

    def __init__(self, inner: DataStream, on_marker: OnMarker | None = None) -> None:
        self._inner = inner
        self._decoder = blockmode.BlockDecoder()
        self._events: list[blockmode.Event] = []
        self._on_marker = on_marker
        self._done = False

    @property
    def session_reused(self) -> bool:
        return self._inner.session_reused

    async def read(self) -> bytes:
        while True:
            if self._done:
                return b""
            if self._events:
                event = self._events.pop(0)
                if isinstance(event, blockmode.Data):
                    if event.data:
                        return event.data
                elif isinstance(event, blockmode.Marker):
                    if self._on_marker is not None:
                        self._on_marker(event.marker)
                else:
                    self._done = True
                continue
            raw = await self._inner.read()
            try:
                if not raw:
                    self._decoder.check_end()
                self._events = self._decoder.feed(raw)
            except blockmode.BadBlock as exc:
                raise DataChannelError(f"MODE B: {exc}") from None

    async def write(self, data: bytes | memoryview) -> None:
        if data:
            await self._inner.write(b"".join(blockmode.encode_data(data)))

    async def mark(self, marker: str) -> None:
        await self._inner.write(blockmode.encode_marker(marker))

    async def finish(self) -> None:
        await self._inner.write(blockmode.encode_eof())

    async def close(self) -> None:
        await self._inner.close()
