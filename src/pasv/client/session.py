"""A whole session as one retried unit: connect, log in, run an operation, quit."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pasv.client.client import FtpClient
from pasv.client.options import ClientOptions
from pasv.client.retry import OnRetry, RetryPolicy, Sleep, with_retries

__all__ = ["Target", "open_client", "run_session"]

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where to log in: host, port and the account (the password is never logged)."""

    host: str
    port: int
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Target({self.user}@{self.host}:{self.port})"


async def open_client(target: Target, options: ClientOptions) -> FtpClient:
    """A connected, logged-in client (closed again if the login fails)."""
    client = FtpClient(options)
    try:
        await client.connect(target.host, target.port)
        await client.login(target.user, target.password)
    except BaseException:
        await client.close()
        raise
    return client


async def run_session(
    target: Target,
    options: ClientOptions,
    operation: Callable[[FtpClient], Awaitable[T]],
    policy: RetryPolicy | None = None,
    *,
    sleep: Sleep | None = None,
    on_retry: OnRetry | None = None,
    rng: random.Random | None = None,
) -> T:
    """Run ``operation`` in a fresh session; a transient failure starts a new one after a wait."""

    async def attempt() -> T:
        client = await open_client(target, options)
        try:
            result = await operation(client)
        except BaseException:
            await client.close()
            raise
        await client.quit()
        return result

    chosen = policy or RetryPolicy()
    if sleep is None:
        return await with_retries(attempt, chosen, on_retry=on_retry, rng=rng)
    return await with_retries(attempt, chosen, sleep=sleep, on_retry=on_retry, rng=rng)
