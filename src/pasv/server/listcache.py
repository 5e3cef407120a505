"""Formatted listings of unchanged directories: a repeated LIST/NLST/MLSD skips a stat per entry."""

from __future__ import annotations

import mmap
import struct
import time
from collections import OrderedDict
from collections.abc import Hashable

from pasv.protocol.listing import FileFacts

_COUNTER = struct.Struct("=Q")


class ChangeCounter:
    """A number every worker process sees, bumped by any write that goes through pasv.

    It lives in an anonymous shared mapping made before the workers fork. Two workers bumping at
    the same instant may both write the same value; the value still differs from what a cache
    recorded before either write, which is all the cache needs.
    """

    def __init__(self) -> None:
        self._memory = mmap.mmap(-1, _COUNTER.size)

    @property
    def value(self) -> int:
        return int(_COUNTER.unpack_from(self._memory)[0])

    def bump(self) -> None:
        _COUNTER.pack_into(self._memory, 0, (self.value + 1) & 0xFFFFFFFFFFFFFFFF)


def signature(directory: FileFacts) -> tuple[object, ...]:
    """What changes when an entry is created, deleted or renamed in the directory."""
    return (directory.unique, directory.mtime, directory.size, directory.nlink)


class ListingCache:
    """Listings are served from here only while all of these hold:

    - the directory's signature is unchanged (entries created, removed or renamed change it);
    - no write went through any pasv worker since the listing was made (``ChangeCounter``);
    - it is younger than ``ttl`` seconds: this bounds how long an in-place edit made by another
      program — which leaves the directory's signature alone — can go unseen.
    """

    def __init__(self, changes: ChangeCounter, ttl: float, max_bytes: int = 32 * 1024 * 1024):
        self.changes = changes
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[tuple[object, ...], int, float, bytes]] = (
            OrderedDict()
        )
        self._bytes = 0

    def get(self, key: Hashable, sig: tuple[object, ...]) -> bytes | None:
        if self.ttl <= 0:
            return None
        found = self._entries.get(key)
        if found is None:
            return None
        cached_sig, counter, made, data = found
        if cached_sig != sig or counter != self.changes.value or time.monotonic() - made > self.ttl:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return data

    def put(self, key: Hashable, sig: tuple[object, ...], counter: int, data: bytes) -> None:
        """Store a listing made after reading ``sig`` and ``counter`` (read *before* listing)."""
        if self.ttl <= 0 or len(data) > self.max_bytes // 4:
            return
        self._drop(key)
        self._entries[key] = (sig, counter, time.monotonic(), data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: Hashable) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= len(found[3])
