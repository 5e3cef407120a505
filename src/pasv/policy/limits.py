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


def sliding_count(current: int, previous: int, now: float, window: float) -> float:
    """Events in the last ``window`` seconds, estimated from two fixed windows (current and
    previous): the previous one counts for the part of it still inside the sliding window."""
    into = (now % window) / window
    return current + previous * (1.0 - into)


def window_index(now: float, window: float) -> int:
    return int(now // window)


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
