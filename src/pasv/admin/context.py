"""What the admin API and console share: the store, tokens, audit log, live sessions, samples."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pasv.admin.actions import Manager
from pasv.admin.audit import AuditLog
from pasv.admin.tokens import TokenStore
from pasv.config import Settings
from pasv.server.registry import SessionRegistry
from pasv.server.xferlog import ReadBack

SAMPLE_EVERY = 2.0
SAMPLES = 300  # ten minutes


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a token or a console login, and what they may do."""

    actor: str
    scopes: tuple[str, ...]
    address: str


class Throughput:
    """Bytes per second of the running transfers, sampled every two seconds for ten minutes."""

    def __init__(self, registry: SessionRegistry) -> None:
        self.registry = registry
        self.samples: collections.deque[tuple[float, float, float]] = collections.deque(
            maxlen=SAMPLES
        )
        self._seen: dict[tuple[str, str, str], int] = {}
        self._at = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> None:
        now = time.monotonic()
        elapsed = max(1e-3, now - self._at)
        seen: dict[tuple[str, str, str], int] = {}
        moved = {"upload": 0, "download": 0}
        for session in await self.registry.transfers():
            transfer = session.transfer
            if transfer is None:
                continue
            key = (session.id, transfer.command, transfer.path)
            seen[key] = transfer.bytes
            moved[transfer.direction] += max(0, transfer.bytes - self._seen.get(key, 0))
        self._seen, self._at = seen, now
        self.samples.append((time.time(), moved["upload"] / elapsed, moved["download"] / elapsed))

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                await self.sample()

        self._task = asyncio.ensure_future(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class AdminContext:
    settings: Settings
    manager: Manager
    tokens: TokenStore
    audit: AuditLog
    registry: SessionRegistry
    throughput: Throughput
    workers: int = 1
    cluster: bool = False  # several nodes on PostgreSQL: the dashboard shows each session's node
    ftp_addresses: list[tuple[str, int]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    xferlog: ReadBack | None = None  # the server's own descriptor of it (opened before the switch)

    @property
    def transfer_log(self) -> Path | ReadBack:
        """What the transfer history is read from: the server's descriptor, else the path."""
        return self.xferlog if self.xferlog is not None else self.settings.xferlog_path

    def audited(
        self, who: Principal, action: str, target: str, detail: Mapping[str, object], ok: bool
    ) -> None:
        self.audit.record(who.actor, who.address, action, target, dict(detail), ok)
