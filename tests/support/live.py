"""A real pasv server on loopback, in a thread, for tests that drive it with real clients."""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from pasv.accounts.passwords import light_hasher
from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlite import SqliteAccountStore
from pasv.config import Settings, load_settings
from pasv.policy.models import Perm
from pasv.server.app import FtpServer
from tests.support.ports import passive_base, worker_index

T = TypeVar("T")

USER, PASSWORD = "alice", "s3cret-pw"


def passive_range() -> str:
    """A passive range per xdist worker, so parallel test processes never compete for ports."""
    low = passive_base() + 1000 * worker_index()
    return f"{low}-{low + 999}"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


@dataclass
class LiveServer:
    """A started server: where it listens, and handles to reach into it."""

    settings: Settings
    host: str
    port: int
    server: FtpServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    accounts: SqliteAccountStore
    clients: list[ftplib.FTP] = field(default_factory=list)

    @property
    def files(self) -> Path:
        return self.settings.files_root

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def connect(self, timeout: float = 10) -> ftplib.FTP:
        ftp = ftplib.FTP(timeout=timeout, encoding="utf-8")
        ftp.connect(self.host, self.port)
        self.clients.append(ftp)
        return ftp

    def login(self, user: str = USER, password: str = PASSWORD) -> ftplib.FTP:
        ftp = self.connect()
        ftp.login(user, password)
        return ftp

    def add_user(self, name: str, password: str, *, home: str = "", perms: Perm = Perm.ALL) -> None:
        self.call(self.accounts.add(name, password, home=home, perms=perms))

    @property
    def policy(self) -> PolicyStore:
        """The server's policy storage; call ``reload_policy`` after changing it."""
        return PolicyStore(self.accounts)

    def reload_policy(self) -> None:
        async def reload() -> None:
            self.server.gate.reload()

        self.call(reload())

    def stop(self) -> None:
        for ftp in self.clients:
            with contextlib.suppress(OSError):
                ftp.close()

        async def shutdown() -> None:
            await self.server.close()
            await self.accounts.close()

        self.call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()  # frees the loop's epoll/eventfd/io_uring descriptors


def start_server(data_dir: Path, host: str = "127.0.0.1", **overrides: Any) -> LiveServer:
    """Start pasv with user alice (all permissions) on an ephemeral port."""
    base: dict[str, Any] = {
        "server": {"data_dir": str(data_dir), "host": host, "port": 0},
        "passive": {"ports": passive_range()},
        "tls": {"implicit_port": 0},
        "login": {"failure_delay": 0.05},
        "logging": {"level": "debug"},
        "metrics": {"listen": "127.0.0.1:0"},
    }
    settings = load_settings(None, _merge(base, overrides), environ={})
    settings.files_root.mkdir(parents=True, exist_ok=True)
    loop = uvloop.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="pasv-test-server", daemon=True)
    thread.start()

    async def boot() -> tuple[FtpServer, SqliteAccountStore, tuple[str, int]]:
        accounts = SqliteAccountStore(settings.accounts_db, hasher=light_hasher())
        await accounts.add(USER, PASSWORD)
        server = FtpServer(settings, accounts)
        bound = await server.start()
        return server, accounts, bound[0]

    server, accounts, (bound_host, bound_port) = asyncio.run_coroutine_threadsafe(
        boot(), loop
    ).result(30)
    return LiveServer(settings, bound_host, bound_port, server, loop, thread, accounts)
