"""Bandwidth limits shared by all sessions and workers, and the quota watch on uploads."""

from __future__ import annotations

import time

from pasv.policy.access import Access
from pasv.policy.limits import gcra
from pasv.protocol.errors import QuotaExceeded
from pasv.server.shared import SharedState, digest

_BURST = 0.05  # seconds of traffic that may pass at once after an idle time
_NS = 1_000_000_000


class Throttle:
    """Token buckets (GCRA) for one transfer: the user's, its groups' and the server's."""

    __slots__ = ("_buckets", "_shared", "chunk")

    def __init__(self, shared: SharedState, buckets: list[tuple[int, int]]) -> None:
        self._shared = shared
        self._buckets = buckets
        slowest = min(rate for _, rate in buckets)
        # move about 1/20 s of the slowest budget per step, so the rate is smooth
        self.chunk = max(4096, min(1024 * 1024, slowest // 20))

    def wait(self, sent: int) -> float:
        """Charge ``sent`` bytes; the seconds to pause before the next step."""
        now = time.monotonic()
        longest = 0.0
        common = self._shared.common
        with self._shared.locked():
            for key, rate in self._buckets:
                tat = common.get(key, now) / _NS
                tat, wait = gcra(tat, now, sent, rate, _BURST)
                common.put(key, int(tat * _NS), tat + 60.0)
                longest = max(longest, wait)
        return longest


def throttle_for(shared: SharedState, access: Access, *, upload: bool) -> Throttle | None:
    """The buckets that limit this user's transfers in one direction; None when unlimited."""
    limits = access.upload_limits if upload else access.download_limits
    if not limits:
        return None
    way = "up" if upload else "down"
    return Throttle(shared, [(digest(f"bw:{name}:{way}"), rate) for name, rate in limits])


def _quota_keys(user: str) -> tuple[int, int, int]:
    """A user's quota keys: bytes in flight and running watches (each worker's own table,
    wiped with a dead worker's), and the usage recorded while watches run (common)."""
    return digest(f"q:{user}"), digest(f"q-n:{user}"), digest(f"q-rec:{user}")


class QuotaWatch:
    """Stops an upload at the byte quota. The room is the user's: what the user's other
    uploads (in every worker of this machine) have in flight, and what the ones that ended
    while this one ran recorded, count against it.

    Make the watch before reading the usage it is armed with (``arm``): what is recorded
    between the two is then counted twice by this watch (a stricter limit), never missed.
    """

    __slots__ = ("_base", "_counted", "_keys", "_limit", "_open", "_shared", "_text", "exceeded")

    def __init__(self, shared: SharedState, user: str, text: str) -> None:
        self._shared, self._keys, self._text = shared, _quota_keys(user), text
        self._limit = 0
        self._counted = 0
        self._open = True
        self.exceeded = False
        _, running, recorded = self._keys
        with shared.locked():
            shared.mine.add(running, 1)
            self._base = shared.common.get(recorded)

    def _used(self) -> int:
        """Bytes counted against this upload's room now (hold the lock)."""
        flight, _, recorded = self._keys
        return self._shared.sessions(flight) + self._shared.common.get(recorded) - self._base

    def arm(self, room: int) -> None:
        """Set the room (quota minus the usage read after this watch was made, plus what the
        upload replaces); 552 when the user's other uploads already fill it."""
        self._limit = room
        with self._shared.locked():
            full = self._used() >= room
        if full:
            self.close()
            raise self.error()

    def add(self, got: int) -> int:
        """Count ``got`` arriving bytes; returns how many of them fit (fewer: stop the upload
        after writing those, and raise ``error()``)."""
        shared = self._shared
        with shared.locked():
            shared.mine.add(self._keys[0], got)
            used = self._used()
        self._counted += got
        over = max(0, min(got, used - self._limit))
        self.exceeded = self.exceeded or over > 0
        return got - over

    def error(self) -> QuotaExceeded:
        return QuotaExceeded(self._text)

    def close(self, recorded: int = 0) -> None:
        """The upload is over and ``recorded`` bytes of usage were written for it: its bytes
        leave the flight and join what the other running uploads count as recorded."""
        flight, running, kept = self._keys
        shared = self._shared
        with shared.locked():
            if self._counted:
                shared.mine.add(flight, -self._counted)
                self._counted = 0
            if self._open:
                self._open = False
                shared.mine.add(running, -1)
                if shared.sessions(running) == 0:
                    shared.common.put(kept, 0)  # no watch reads it: swept
                elif recorded:
                    shared.common.add(kept, recorded)
