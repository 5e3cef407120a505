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
from typing import Any

log = logging.getLogger("pasv.server")

_WORDS = 3  # a slot's 8-byte words: key digest (0 = empty), value, expiry (monotonic s; 0 = never)
_ZERO = (0, 0.0)  # a LocalTable's absent value


@functools.lru_cache(maxsize=8192)
def digest(key: str) -> int:
    """The 64-bit table key of a name, a signed integer as the table stores it (memoised: the
    same addresses and users come back)."""
    value = int.from_bytes(
        hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True
    )
    return value or 1


class Table:
    """An open-addressing hash table of integers in shared memory (linear probing; deletion by
    backward shift, so probe chains never fill up with tombstones).

    The memory is read and written as machine words through two views of it, one of 64-bit
    integers (keys and values) and one of doubles (expiries): an index into a view costs a
    tenth of a ``struct`` unpacking, and a login reads several slots."""

    __slots__ = ("_base", "_memory", "_slots", "_times", "_words")

    def __init__(self, memory: mmap.mmap, base: int, slots: int) -> None:
        self._memory, self._base, self._slots = memory, base, slots
        region = memoryview(memory)[base : base + self.size(slots)]
        self._words, self._times = region.cast("q"), region.cast("d")

    @staticmethod
    def size(slots: int) -> int:
        return slots * _WORDS * 8

    def _find(self, key: int) -> int:
        """The first word of the slot holding ``key``, or of the empty slot where it would go
        (-1 when the table is full). The home slot is read first, outside any loop: it is almost
        always the answer, and this runs several times per login."""
        words, slots = self._words, self._slots
        at = key % slots * _WORDS
        found = words[at]
        if found == key or found == 0:
            return at
        end = slots * _WORDS
        for _ in range(slots - 1):
            at += _WORDS
            if at == end:
                at = 0
            found = words[at]
            if found == key or found == 0:
                return at
        return -1

    def get(self, key: int, now: float = 0.0) -> int:
        at = self._find(key)
        if at < 0 or self._words[at] == 0:
            return 0
        expiry = self._times[at + 2]
        return 0 if expiry and now >= expiry else self._words[at + 1]

    def add(self, key: int, delta: int, expiry: float = 0.0, now: float = 0.0) -> int:
        """Add ``delta``; an expired value starts again from zero. Returns the new value."""
        at = self._find(key)
        if at < 0:
            log.warning("shared counter table full; a limit may be counted low")
            return delta
        words, times = self._words, self._times
        value = delta
        if words[at] == key:
            ends = times[at + 2]
            if not (ends and now >= ends):
                value += words[at + 1]
        else:
            words[at] = key
        # a zero stays until swept: no delete churn
        words[at + 1] = value
        times[at + 2] = expiry
        return value

    def counts(self, keys: tuple[int, ...]) -> list[int]:
        """The values of ``keys`` that never expire (session counts), in one call."""
        words, slots = self._words, self._slots
        values = []
        for key in keys:
            at = key % slots * _WORDS
            found = words[at]
            if found != key and found != 0:
                at = self._find(key)
                found = words[at] if at >= 0 else 0
            values.append(words[at + 1] if found == key else 0)
        return values

    def add_each(self, keys: tuple[int, ...], delta: int) -> None:
        """``add(key, delta)`` for each of ``keys``, values that never expire."""
        words, times, slots = self._words, self._times, self._slots
        for key in keys:
            at = key % slots * _WORDS
            if words[at] == key:
                words[at + 1] += delta
                continue
            if words[at] != 0:
                at = self._find(key)
                if at < 0:
                    log.warning("shared counter table full; a limit may be counted low")
                    continue
                if words[at] == key:
                    words[at + 1] += delta
                    continue
            words[at], words[at + 1] = key, delta
            times[at + 2] = 0.0

    def put(self, key: int, value: int, expiry: float = 0.0) -> None:
        at = self._find(key)
        if at >= 0:
            self._words[at], self._words[at + 1] = key, value
            self._times[at + 2] = expiry

    def sweep(self, now: float) -> int:
        """Drop expired entries and zero counts; returns how many."""
        words, times = self._words, self._times
        dropped = 0
        at, end = 0, self._slots * _WORDS
        while at < end:
            if words[at]:
                expiry = times[at + 2]
                if (expiry and now >= expiry) or (not expiry and words[at + 1] == 0):
                    self._delete(at)
                    dropped += 1
                    continue  # the slot now holds a shifted entry: look at it again
            at += _WORDS
        return dropped

    def clear(self) -> None:
        self._memory[self._base : self._base + self.size(self._slots)] = bytes(
            self.size(self._slots)
        )

    def _delete(self, at: int) -> None:
        words, times, slots = self._words, self._times, self._slots
        hole = at // _WORDS
        probe = (hole + 1) % slots
        while True:
            key = words[probe * _WORDS]
            if key == 0:
                break
            home = key % slots
            # move the entry back into the hole unless its home lies cyclically in (hole, probe]
            if (probe > hole and (home <= hole or home > probe)) or (
                probe < hole and home <= hole and home > probe
            ):
                to, fro = hole * _WORDS, probe * _WORDS
                words[to], words[to + 1] = key, words[fro + 1]
                times[to + 2] = times[fro + 2]
                hole = probe
            probe = (probe + 1) % slots
        to = hole * _WORDS
        words[to] = words[to + 1] = 0
        times[to + 2] = 0.0


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
        total = 0
        for table in self._tables:
            total += table.get(key)
        return total

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
