"""Retries with exponential backoff and jitter, never faster than a minimum delay."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pasv.client.errors import FtpClientError

__all__ = ["RetryPolicy", "with_retries"]

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[int, float, FtpClientError], None]


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all; waits grow from ``min_delay`` by ``factor`` up to ``max_delay``.

    ``min_delay`` keeps a retrying client below a server's anti-hammering threshold (several
    failed connections within seconds get an address banned): a wait is never shorter.
    """

    attempts: int = 4
    min_delay: float = 3.0
    factor: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.25

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before retry number ``retry`` (0 for the first retry)."""
        base = min(self.max_delay, self.min_delay * self.factor**retry)
        return max(self.min_delay, base * (1 + rng.uniform(0, self.jitter)))


async def with_retries(
    operation: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``operation``; on a transient FtpClientError wait and run it again, up to the limit.

    Permanent errors (wrong password, 550, 553 …) are raised at once.
    """
    chooser = rng or random.Random()
    retry = 0
    while True:
        try:
            return await operation()
        except FtpClientError as exc:
            if not exc.transient or exc.final or retry + 1 >= policy.attempts:
                raise
            wait = policy.delay(retry, chooser)
            if on_retry is not None:
                on_retry(retry + 1, wait, exc)
            await sleep(wait)
            retry += 1
