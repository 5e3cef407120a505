"""Ban lengths, sliding windows, the rate limiter and credit arithmetic."""

from __future__ import annotations

import pytest

from pasv.policy.credits import Usage, credit_applies, earned, files_full, quota_room
from pasv.policy.limits import ban_seconds, gcra, minutes_left, window_slices
from pasv.policy.options import PolicySettings, Ratio


def test_repeat_offenders_wait_longer_up_to_a_cap() -> None:
    settings = PolicySettings(ban_minutes=15, ban_max_minutes=60)
    assert [ban_seconds(settings, n) / 60 for n in (1, 2, 3, 4, 9)] == [15, 30, 60, 60, 60]


def test_minutes_left_rounds_up() -> None:
    assert minutes_left(1000.0 + 61, 1000.0) == 2
    assert minutes_left(1000.0 + 1, 1000.0) == 1
    assert minutes_left(1000.0 + 900, 1000.0) == 15


@pytest.mark.parametrize(
    "times",
    [
        [59.0, 59.9, 60.6],  # straddling a window boundary
        [44.9, 45.0, 45.1],  # straddling a slice boundary
        [0.0, 30.0, 59.9],  # spread over the whole window
        [100.0, 100.0, 100.0],
    ],
)
def test_events_within_the_window_are_never_undercounted(times: list[float]) -> None:
    window = 60.0
    counts: dict[int, int] = {}
    seen = 0
    for now in times:
        current, slices, _ = window_slices(now, window)
        counts[current] = counts.get(current, 0) + 1
        seen = sum(counts.get(index, 0) for index in slices)
    assert seen == len(times)


def test_old_events_leave_the_window() -> None:
    window = 60.0
    counts: dict[int, int] = {}
    for now in (0.0, 1.0):
        current, _, forget_at = window_slices(now, window)
        counts[current] = counts.get(current, 0) + 1
    assert forget_at == 75.0  # the slice [0, 15) is of no use after 75 s
    _, slices, _ = window_slices(76.0, window)  # 76 s later: both events are out
    assert sum(counts.get(index, 0) for index in slices) == 0


def test_gcra_lets_a_burst_through_then_paces() -> None:
    rate, burst = 1000, 0.1
    tat, wait = gcra(0.0, 10.0, 100, rate, burst)  # idle bucket: 0.1 s of traffic at once
    assert tat == pytest.approx(10.1)
    assert wait == 0.0
    tat, wait = gcra(tat, 10.0, 100, rate, burst)  # the next 100 bytes must wait 0.1 s
    assert wait == pytest.approx(0.1)
    sent, now, total_wait = 0, 20.0, 0.0
    tat = 0.0
    for _ in range(100):  # 100 x 100 bytes at 1000 B/s take 10 s, less the burst
        tat, wait = gcra(tat, now, 100, rate, burst)
        now += wait
        total_wait += wait
        sent += 100
    assert sent / (now - 20.0 + 0.1) == pytest.approx(rate, rel=0.02)


def test_credits_and_quota_room() -> None:
    assert earned(Ratio(1, 3), 1000) == 3000
    assert earned(Ratio(2, 1), 1000) == 500
    assert not credit_applies(PolicySettings())
    assert credit_applies(PolicySettings(ratio=Ratio(1, 1)))
    assert not credit_applies(PolicySettings(ratio=Ratio(1, 1), credit_exempt=True))
    quota = PolicySettings(quota_bytes=100, quota_files=2)
    assert quota_room(PolicySettings(), Usage()) is None
    assert quota_room(quota, Usage(bytes_used=40)) == 60
    assert quota_room(quota, Usage(bytes_used=100), replacing=30) == 30
    assert quota_room(quota, Usage(bytes_used=150)) == 0
    assert files_full(quota, Usage(files_used=2))
    assert not files_full(PolicySettings(), Usage(files_used=10**6))
