"""Counters every worker process sees: sessions per address/user/group, rate windows, buckets.

One anonymous shared mapping is made before the workers fork. Each worker owns one table of the
sessions it holds (so the supervisor can wipe a dead worker's share); one more table holds what
all workers update together: connection and failure windows, and bandwidth buckets. Reads and
writes that must agree (check a limit, then count the session) run under one process-shared lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import multiprocessing
import struct
from collections.abc import Iterator

log = logging.getLogger("pasv.server")

_SLOT = struct.Struct("=Qqd")  # key digest (0 = empty), value, expiry (monotonic s; 0 = never)
_EMPTY = (0, 0, 0.0)


def digest(key: str) -> int:
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return value or 1


class Table:
    """An open-addressing hash table of integers in shared memory (linear probing; deletion by
    backward shift, so probe chains never fill up with tombstones)."""

    __slots__ = ("_base", "_memory", "_slots")

    def __init__(self, memory: mmap.mmap, base: int, slots: int) -> None:
        self._memory, self._base, self._slots = memory, base, slots

    @staticmethod
    def size(slots: int) -> int:
        return slots * _SLOT.size

    def _read(self, index: int) -> tuple[int, int, float]:
        return _SLOT.unpack_from(self._memory, self._base + index * _SLOT.size)

    def _write(self, index: int, slot: tuple[int, int, float]) -> None:
        _SLOT.pack_into(self._memory, self._base + index * _SLOT.size, *slot)

    def _find(self, key: int) -> tuple[int, bool]:
        """The slot holding ``key`` (True), or the empty slot where it would go (False)."""
        index = key % self._slots
        for _ in range(self._slots):
            found = self._read(index)[0]
            if found == key:
                return index, True
            if found == 0:
                return index, False
            index = (index + 1) % self._slots
        return -1, False

    def get(self, key: int, now: float = 0.0) -> int:
        index, found = self._find(key)
        if not found:
            return 0
        _, value, expiry = self._read(index)
        return 0 if expiry and now >= expiry else value

    def add(self, key: int, delta: int, expiry: float = 0.0, now: float = 0.0) -> int:
        """Add ``delta``; an expired value starts again from zero. Returns the new value."""
        index, found = self._find(key)
        if index < 0:
            log.warning("shared counter table full; a limit may be counted low")
            return delta
        value = 0
        if found:
            _, value, old_expiry = self._read(index)
            if old_expiry and now >= old_expiry:
                value = 0
        value += delta
        if value == 0 and not expiry:
            self._delete(index)
        else:
            self._write(index, (key, value, expiry))
        return value

    def put(self, key: int, value: int, expiry: float = 0.0) -> None:
        index, _ = self._find(key)
        if index >= 0:
            self._write(index, (key, value, expiry))

    def sweep(self, now: float) -> int:
        """Drop expired entries; returns how many."""
        dropped = 0
        index = 0
        while index < self._slots:
            key, _, expiry = self._read(index)
            if key and expiry and now >= expiry:
                self._delete(index)
                dropped += 1
                continue  # the slot now holds a shifted entry: look at it again
            index += 1
        return dropped

    def clear(self) -> None:
        self._memory[self._base : self._base + self.size(self._slots)] = bytes(
            self.size(self._slots)
        )

    def _delete(self, index: int) -> None:
        hole = index
        probe = (index + 1) % self._slots
        while True:
            slot = self._read(probe)
            if slot[0] == 0:
                break
            home = slot[0] % self._slots
            # move the entry back into the hole unless its home lies cyclically in (hole, probe]
            if (probe > hole and (home <= hole or home > probe)) or (
                probe < hole and home <= hole and home > probe
            ):
                self._write(hole, slot)
                hole = probe
            probe = (probe + 1) % self._slots
        self._write(hole, _EMPTY)


class SharedState:
    """The counters of one server, shared by its worker processes (or used by one alone)."""

    SLOTS_PER_WORKER = 16384
    GLOBAL_SLOTS = 65536

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        per = Table.size(self.SLOTS_PER_WORKER)
        total = per * workers + Table.size(self.GLOBAL_SLOTS)
        self._memory = mmap.mmap(-1, total)
        self._tables = [Table(self._memory, i * per, self.SLOTS_PER_WORKER) for i in range(workers)]
        self.common = Table(self._memory, per * workers, self.GLOBAL_SLOTS)
        self._lock = multiprocessing.get_context("fork").Lock()
        self.index = 0

    def bind(self, index: int) -> None:
        """In a worker: which of the per-worker tables is this process's own."""
        self.index = index

    @property
    def mine(self) -> Table:
        return self._tables[self.index]

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process lock; a lock held by a worker that died is broken after 1 s."""
        got = self._lock.acquire(timeout=1.0)
        if not got:
            log.warning("shared counter lock not released by its holder; proceeding without it")
        try:
            yield
        finally:
            if got:
                self._lock.release()

    def sessions(self, key: int) -> int:
        """Sessions counted under ``key`` by all workers."""
        return sum(table.get(key) for table in self._tables)

    def wipe_worker(self, index: int) -> None:
        """The supervisor, after worker ``index`` died: its sessions are gone."""
        self._tables[index].clear()
