"""Counters every worker process sees: sessions per address/user/group, rate windows, buckets.

One anonymous shared mapping is made before the workers fork. Each worker owns one table of the
sessions it holds (so the supervisor can wipe a dead worker's share); one more table holds what
all workers update together: connection and failure windows, and bandwidth buckets. Reads and
writes that must agree (check a limit, then count the session) run under one process-shared lock.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import mmap
import multiprocessing
import operator
import struct
from typing import Any

log = logging.getLogger("pasv.server")

_SLOT = struct.Struct("=Qqd")  # key digest (0 = empty), value, expiry (monotonic s; 0 = never)
_EMPTY = (0, 0, 0.0)
_ZERO = (0, 0.0)  # a LocalTable's absent value


@functools.lru_cache(maxsize=8192)
def digest(key: str) -> int:
    """The 64-bit table key of a name (memoised: the same addresses and users come back)."""
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

    def _find(self, key: int) -> tuple[int, tuple[int, int, float] | None]:
        """The slot holding ``key`` with its entry, or the empty slot where it would go with
        None (-1 when the table is full). The home slot is read first, outside any loop: it is
        almost always the answer, and this runs several times per login."""
        memory, base, slots = self._memory, self._base, self._slots
        index = key % slots
        slot = _SLOT.unpack_from(memory, base + index * _SLOT.size)
        if slot[0] == key:
            return index, slot
        if slot[0] == 0:
            return index, None
        for _ in range(slots - 1):
            index = index + 1 if index + 1 < slots else 0
            slot = _SLOT.unpack_from(memory, base + index * _SLOT.size)
            if slot[0] == key:
                return index, slot
            if slot[0] == 0:
                return index, None
        return -1, None

    def get(self, key: int, now: float = 0.0) -> int:
        slot = self._find(key)[1]
        if slot is None:
            return 0
        return 0 if slot[2] and now >= slot[2] else slot[1]

    def add(self, key: int, delta: int, expiry: float = 0.0, now: float = 0.0) -> int:
        """Add ``delta``; an expired value starts again from zero. Returns the new value."""
        index, slot = self._find(key)
        if index < 0:
            log.warning("shared counter table full; a limit may be counted low")
            return delta
        value = delta
        if slot is not None and not (slot[2] and now >= slot[2]):
            value += slot[1]
        # a zero stays until swept: no delete churn
        _SLOT.pack_into(self._memory, self._base + index * _SLOT.size, key, value, expiry)
        return value

    def counts(self, keys: tuple[int, ...]) -> list[int]:
        """The values of ``keys`` that never expire (session counts), in one call. Each key's
        home slot is read here (a call of ``_find`` per key costs 9k instructions per login);
        only a key that was moved on is looked for further."""
        memory, base, slots, width = self._memory, self._base, self._slots, _SLOT.size
        values = []
        for key in keys:
            slot = _SLOT.unpack_from(memory, base + key % slots * width)
            if slot[0] == key:
                values.append(slot[1])
            elif slot[0] == 0:
                values.append(0)
            else:
                found = self._find(key)[1]
                values.append(0 if found is None else found[1])
        return values

    def add_each(self, keys: tuple[int, ...], delta: int) -> None:
        """``add(key, delta)`` for each of ``keys``, values that never expire; the home slot
        read here, as in ``counts``."""
        memory, base, slots, width = self._memory, self._base, self._slots, _SLOT.size
        for key in keys:
            index = key % slots
            slot = _SLOT.unpack_from(memory, base + index * width)
            value = delta
            if slot[0] == key:
                value += slot[1]
            elif slot[0] != 0:
                index, found = self._find(key)
                if index < 0:
                    log.warning("shared counter table full; a limit may be counted low")
                    continue
                if found is not None:
                    value += found[1]
            _SLOT.pack_into(memory, base + index * width, key, value, 0.0)

    def put(self, key: int, value: int, expiry: float = 0.0) -> None:
        index = self._find(key)[0]
        if index >= 0:
            self._write(index, (key, value, expiry))

    def sweep(self, now: float) -> int:
        """Drop expired entries and zero counts; returns how many."""
        dropped = 0
        index = 0
        while index < self._slots:
            key, value, expiry = self._read(index)
            if key and ((expiry and now >= expiry) or (not expiry and value == 0)):
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


class LocalTable:
    """The same table in a plain dict, for a server of one process (nothing to share)."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[int, tuple[int, float]] = {}

    def get(self, key: int, now: float = 0.0) -> int:
        value, expiry = self._values.get(key, (0, 0.0))
        return 0 if expiry and now >= expiry else value

    def add(self, key: int, delta: int, expiry: float = 0.0, now: float = 0.0) -> int:
        value = self.get(key, now) + delta
        self._values[key] = (value, expiry)
        return value

    def counts(self, keys: tuple[int, ...]) -> list[int]:
        values = self._values
        return [values.get(key, _ZERO)[0] for key in keys]

    def add_each(self, keys: tuple[int, ...], delta: int) -> None:
        values = self._values
        for key in keys:
            values[key] = (values.get(key, _ZERO)[0] + delta, 0.0)

    def put(self, key: int, value: int, expiry: float = 0.0) -> None:
        self._values[key] = (value, expiry)

    def sweep(self, now: float) -> int:
        gone = [
            key
            for key, (value, expiry) in self._values.items()
            if (expiry and now >= expiry) or (not expiry and value == 0)
        ]
        for key in gone:
            del self._values[key]
        return len(gone)

    def clear(self) -> None:
        self._values.clear()


class _TimedLock:
    """The cross-process lock; one held by a worker that died is given up on after 1 s."""

    __slots__ = ("_got", "_lock")

    def __init__(self, lock: Any) -> None:
        self._lock, self._got = lock, False

    def __enter__(self) -> None:
        self._got = self._lock.acquire(timeout=1.0)
        if not self._got:
            log.warning("shared counter lock not released by its holder; proceeding without it")

    def __exit__(self, *exc: object) -> None:
        if self._got:
            self._got = False
            self._lock.release()


class SharedState:
    """The counters of one server, shared by its worker processes (or used by one alone)."""

    SLOTS_PER_WORKER = 16384
    GLOBAL_SLOTS = 65536

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.index = 0
        self._lock: Any = None
        self._tables: list[Table | LocalTable]
        self.common: Table | LocalTable
        self._guard: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if workers == 1:  # one process: plain dicts, no lock
            self._tables, self.common = [LocalTable()], LocalTable()
            return
        per = Table.size(self.SLOTS_PER_WORKER)
        memory = mmap.mmap(-1, per * workers + Table.size(self.GLOBAL_SLOTS))
        self._tables = [Table(memory, i * per, self.SLOTS_PER_WORKER) for i in range(workers)]
        self.common = Table(memory, per * workers, self.GLOBAL_SLOTS)
        self._lock = multiprocessing.get_context("fork").Lock()
        self._guard = _TimedLock(self._lock)

    def bind(self, index: int) -> None:
        """In a worker: which of the per-worker tables is this process's own."""
        self.index = index

    @property
    def mine(self) -> Table | LocalTable:
        return self._tables[self.index]

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the cross-process lock (nothing to hold in a single process)."""
        return self._guard

    def sessions(self, key: int) -> int:
        """Sessions counted under ``key`` by all workers."""
        if len(self._tables) == 1:
            return self._tables[0].get(key)
        return sum(table.get(key) for table in self._tables)

    def sessions_of(self, keys: tuple[int, ...]) -> list[int]:
        """``sessions`` of each key, in one pass over each table."""
        tables = self._tables
        totals = tables[0].counts(keys)
        for index in range(1, len(tables)):
            totals = list(map(operator.add, totals, tables[index].counts(keys)))
        return totals

    def count(self, keys: tuple[int, ...], delta: int) -> None:
        """Add ``delta`` to each key's sessions in this worker's own table."""
        self._tables[self.index].add_each(keys, delta)

    def sweep(self, now: float) -> None:
        """Forget ended rate windows and zero counts (this worker's own table and the common)."""
        with self.locked():
            self.mine.sweep(now)
            self.common.sweep(now)

    def wipe_worker(self, index: int) -> None:
        """The supervisor, after worker ``index`` died: its sessions are gone."""
        self._tables[index].clear()
