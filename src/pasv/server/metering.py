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


class QuotaWatch:
    """Stops an upload at the byte quota, counting what the user's other uploads (in every
    worker) have in flight."""

    __slots__ = ("_counted", "_key", "_limit", "_shared", "_text", "exceeded")

    def __init__(self, shared: SharedState, user: str, room: int, text: str) -> None:
        self._shared, self._key, self._limit = shared, digest(f"q:{user}"), room
        self._text = text
        self._counted = 0
        self.exceeded = False

    def add(self, got: int) -> int:
        """Count ``got`` arriving bytes; returns how many of them fit (fewer: stop the upload
        after writing those, and raise ``error()``)."""
        common = self._shared.common
        with self._shared.locked():
            in_flight = common.add(self._key, got)
        self._counted += got
        over = max(0, min(got, in_flight - self._limit))
        self.exceeded = self.exceeded or over > 0
        return got - over

    def error(self) -> QuotaExceeded:
        return QuotaExceeded(self._text)

    def close(self) -> None:
        if self._counted:
            with self._shared.locked():
                self._shared.common.add(self._key, -self._counted)
            self._counted = 0
