"""Anti-hammering arithmetic and rate limiting (GCRA), with the clock passed in."""

from __future__ import annotations

import math

from pasv.policy.options import PolicySettings


def ban_seconds(settings: PolicySettings, offences: int) -> float:
    """How long a ban lasts: the configured time, doubled for each earlier offence, capped."""
    minutes = settings.ban_minutes * 2.0 ** max(0, offences - 1)
    return min(minutes, max(settings.ban_max_minutes, settings.ban_minutes)) * 60.0


def minutes_left(until: float, now: float) -> int:
    """Whole minutes of a ban still to run, at least one while it runs."""
    return max(1, math.ceil((until - now) / 60.0))


BUCKETS = 4  # a counting window is kept in this many slices


def window_slices(now: float, window: float) -> tuple[int, list[int], float]:
    """The slices that cover the last ``window`` seconds: the current slice's number, the
    numbers to add up (current first), and when the current slice may be forgotten.

    Whole slices are counted, so every event of the last ``window`` seconds is counted (never
    fewer: three failures in two seconds are three, whichever boundary they straddle); events
    up to ``window / BUCKETS`` seconds older may count too.
    """
    width = window / BUCKETS
    current = int(now // width)
    return current, list(range(current, current - BUCKETS - 1, -1)), (current + BUCKETS + 1) * width


def gcra(tat: float, now: float, cost: int, rate: int, burst: float) -> tuple[float, float]:
    """Generic cell rate algorithm for a byte budget of ``rate`` bytes per second.

    ``tat`` is the theoretical arrival time stored for the bucket. Returns the new value and the
    seconds the caller must wait before sending ``cost`` bytes (0 to send at once). ``burst`` is
    how many seconds of traffic may go at once after an idle time.
    """
    start = max(tat, now)
    new_tat = start + cost / rate
    wait = new_tat - now - burst
    return new_tat, max(0.0, wait)
