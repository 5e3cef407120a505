"""A download sends the size its file had when it was opened, on every path: sendfile and TLS did,
TYPE A and MODE Z/B read until the end of the file, so a file written faster than the client
reads (a busy log) kept its download going for as long as it grew."""

from __future__ import annotations

import asyncio
import socket

from pasv.server import modetransfers, transfers
from pasv.server.datalayers import Layer
from pasv.server.transfers import Transfer

SIZE = 300_000


class EndlessHandle:
    """A file that grows as fast as it is read: reads find more bytes (up to four times its
    size at the open, so that a mover that reads to the end of the file ends too)."""

    descriptor: int | None = None

    def __init__(self) -> None:
        self.read_bytes = 0

    @property
    def size(self) -> int:
        return SIZE  # its size when it was opened

    async def read(self, n: int) -> bytes:
        n = min(n, 4 * SIZE - self.read_bytes)
        self.read_bytes += n
        return b"g" * n

    def changed(self) -> bool:
        return True

    async def close(self) -> None: ...


class Sink(Layer):
    """The top of a data connection's layers, keeping what was sent."""

    def __init__(self) -> None:
        super().__init__(None)
        self.sent = 0

    async def send(self, data: object) -> None:
        self.sent += len(memoryview(data))  # type: ignore[arg-type]

    async def finish(self) -> None: ...


async def test_mode_z_and_b_downloads_stop_at_the_size_at_the_open() -> None:
    handle, top = EndlessHandle(), Sink()
    transfer = Transfer("RETR", "o", "/log", SIZE, asyncio.get_running_loop())
    await asyncio.wait_for(
        modetransfers.send_file(top, handle, transfer, None, offset=0, marker_every=100_000), 10
    )
    assert top.sent == transfer.done == SIZE
    assert handle.read_bytes == SIZE


async def test_a_resumed_mode_b_download_stops_at_the_size_at_the_open() -> None:
    handle, top = EndlessHandle(), Sink()
    transfer = Transfer("RETR", "o", "/log", SIZE - 1000, asyncio.get_running_loop())
    await asyncio.wait_for(modetransfers.send_file(top, handle, transfer, None, offset=1000), 10)
    assert top.sent == transfer.done == SIZE - 1000


async def test_type_a_and_storage_without_a_file_stop_at_the_size_at_the_open() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    handle = EndlessHandle()
    loop = asyncio.get_running_loop()
    transfer = Transfer("RETR", "o", "/log", SIZE, loop)
    with ours, theirs:
        reader = loop.run_in_executor(None, _read_until_closed, theirs)
        await asyncio.wait_for(transfers.send_stream(ours, handle, transfer, None, count=SIZE), 10)
        ours.shutdown(socket.SHUT_WR)
        received = await asyncio.wait_for(reader, 10)
    assert received == transfer.done == SIZE


def _read_until_closed(sock: socket.socket) -> int:
    total = 0
    while chunk := sock.recv(1 << 16):
        total += len(chunk)
    return total
