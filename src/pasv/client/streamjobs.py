"""What moves the bytes over a data stream: a listing read into memory (with a cap), a download
handed to a writer, an upload read from a reader (with MODE B restart markers)."""

from __future__ import annotations

from collections.abc import Callable

from pasv.client.dataflow import AnyStream
from pasv.client.errors import FtpClientError

__all__ = ["Download", "Listing", "Progress", "Upload"]

Progress = Callable[[int], None]
CHUNK = 256 * 1024


class Listing:
    """Collects a listing's bytes; more than ``limit`` of them fails the command."""

    def __init__(self, command: str, limit: int) -> None:
        self.command = command
        self.limit = limit
        self._chunks: list[bytes] = []

    async def __call__(self, stream: AnyStream) -> int:
        total = 0
        while data := await stream.read():
            self._chunks.append(data)
            total += len(data)
            if total > self.limit:
                self._chunks.clear()
                raise FtpClientError(
                    f"{self.command}: the listing is longer than {self.limit // 2**20} MiB; "
                    "not reading more of it"
                )
        return total

    def text(self, encoding: str) -> str:
        return b"".join(self._chunks).decode(encoding, "surrogateescape")


class Download:
    """Hands each chunk to ``write``; MODE B markers go to ``on_marker`` with the bytes before."""

    def __init__(
        self, write: Callable[[bytes], object], progress: Progress | None,
        on_marker: Callable[[str, int], None] | None,
    ) -> None:  # fmt: skip
        self.write = write
        self.progress = progress
        self.on_marker = on_marker
        self.total = 0

    def marker_seen(self, marker: str) -> None:
        if self.on_marker is not None:
            self.on_marker(marker, self.total)

    async def __call__(self, stream: AnyStream) -> int:
        while data := await stream.read():
            self.write(data)
            self.total += len(data)
            if self.progress is not None:
                self.progress(len(data))
        return self.total


class Upload:
    """Sends ``read(n)`` until b""; with ``every``, a marker (``offset`` + bytes sent, in
    decimal) after each ``every`` bytes."""

    def __init__(
        self, read: Callable[[int], bytes], offset: int, every: int, progress: Progress | None
    ) -> None:
        self.read = read
        self.offset = offset
        self.every = every
        self.progress = progress

    async def __call__(self, stream: AnyStream) -> int:
        every = self.every
        total = 0
        step = min(CHUNK, every) if every else CHUNK
        next_mark = every
        while data := self.read(step if not every else min(step, next_mark - total)):
            await stream.write(data)
            total += len(data)
            if self.progress is not None:
                self.progress(len(data))
            if every and total >= next_mark:
                await stream.mark(str(self.offset + total))
                next_mark = total + every
        await stream.finish()
        return total
