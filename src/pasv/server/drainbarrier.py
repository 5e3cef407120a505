"""The workers of one server stop together: a drained worker keeps answering 421 until all are done.

With one listening socket per worker (SO_REUSEPORT), the kernel hashes each new connection to
one worker's socket. A worker that drained its own sessions and exited would leave its share of
new connections reset (or queued on a socket nobody accepts from) while the others still drain.
So a drained worker marks itself done and waits; whoever marks the last worker done (a worker,
or the supervisor for a worker that ended without marking) releases them all at once.
"""

from __future__ import annotations

import asyncio
import mmap
import multiprocessing
import os
from typing import Any


class DrainBarrier:
    """One flag per worker in shared memory, a process-shared lock, and a release pipe."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._done = mmap.mmap(-1, workers)
        self._stopping = mmap.mmap(-1, 1)  # set by the supervisor before it tells the workers
        self._lock: Any = multiprocessing.get_context("fork").Lock()
        self._release_r, self._release_w = os.pipe()
        os.set_blocking(self._release_r, False)

    def _mark(self, index: int) -> None:
        """Mark ``index`` done; the one who marks the last releases every waiting worker."""
        with self._lock:
            if self._done[index]:
                return
            self._done[index] = 1
            if self._done.find(b"\0") < 0:  # (iterating an mmap yields 1-byte bytes)
                os.write(self._release_w, b"x" * self.workers)

    def stopping(self) -> None:
        """The supervisor, before it signals the workers: the whole server stops."""
        self._stopping[0] = 1

    def ended(self, index: int) -> None:
        """The supervisor: worker ``index`` exited (drained or not), so nobody waits for it."""
        self._mark(index)

    async def drained(self, index: int, now: asyncio.Event) -> None:
        """A worker: its sessions are gone; return when every worker's are (or ``now`` is set).
        A worker told to stop on its own (not by the supervisor) returns at once, and is
        replaced."""
        if not self._stopping[0]:
            return
        self._mark(index)
        loop = asyncio.get_running_loop()
        released = loop.create_future()

        def readable() -> None:
            try:
                os.read(self._release_r, 1)  # one byte each: the others are for other workers
            except BlockingIOError:  # another worker took the byte first
                return
            loop.remove_reader(self._release_r)
            if not released.done():
                released.set_result(None)

        loop.add_reader(self._release_r, readable)
        stop = asyncio.ensure_future(now.wait())
        try:
            await asyncio.wait([released, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(self._release_r)
            stop.cancel()
