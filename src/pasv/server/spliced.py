"""Plain binary uploads into a local file with os.splice: the bytes never pass through Python."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # transfers imports this module
    from pasv.server.transfers import Transfer

log = logging.getLogger("pasv.transfer")

CHUNK = 1024 * 1024  # at most this much per splice
# One splice that takes longer than this means the kernel is throttling us to the disk's speed:
# the rest of the upload is written from a worker thread (as transfers.receive does).
_SLOW_WRITE = 0.05
# A fast sender never blocks us: after this many splices, other sessions get a turn.
_MOVES_PER_TURN = 16


class _Readable:
    """Wakes one waiter each time a socket has bytes; registered once for a whole upload
    (a registration per wait costs several system calls under uvloop)."""

    __slots__ = ("_fd", "_loop", "_waiter")

    def __init__(self, fd: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = fd
        self._waiter: asyncio.Future[None] | None = None
        self._loop.add_reader(fd, self._wake)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self._loop.remove_reader(self._fd)


async def receive_spliced(
    sock: socket.socket, splice: Callable[[int, int], int], transfer: Transfer
) -> bool:
    """A plain binary upload into a local file with ``os.splice``: the bytes go from the socket
    to the page cache without being copied into Python. True at the end of the data; False when
    one write was slow (the disk is throttling us): the caller goes on from a worker thread."""
    fd = sock.fileno()
    readable: _Readable | None = None
    moves = 0
    try:
        while True:
            started = time.perf_counter()
            try:
                got = splice(fd, CHUNK)
            except BlockingIOError:
                if readable is None:
                    readable = _Readable(fd)
                await readable.wait()
                continue
            if not got:
                return True
            transfer.done += got
            if time.perf_counter() - started > _SLOW_WRITE:
                log.debug("%s %s: a write was slow; writing from a thread now", transfer.verb,
                          transfer.path)  # fmt: skip
                return False
            moves += 1
            if moves >= _MOVES_PER_TURN:  # a fast sender never blocks us: let other
                moves = 0  # sessions have a turn now and then
                await asyncio.sleep(0)
    finally:
        if readable is not None:
            readable.close()
