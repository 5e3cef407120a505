"""PostgreSQL specifics: changes seen by every node through NOTIFY, schema migrations, an
unreachable database named without its password."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import psycopg
import pytest
from tests.accounts.test_stores import CountingHasher

from pasv.accounts.base import AccountError
from pasv.accounts.migrations import POSTGRES
from pasv.accounts.postgres import SCHEMA_VERSION, PostgresAccountStore, safe_url
from pasv.accounts.sqlbase import StoreUnavailable
from pasv.policy.models import Perm


class Watched:
    """A store with its LISTEN task running, and an event per notification."""

    def __init__(self, store: PostgresAccountStore) -> None:
        self.store = store
        self.listening = asyncio.Event()
        self.notified = asyncio.Event()
        self.origins: list[str] = []

    async def on_change(self, origin: str) -> None:
        self.origins.append(origin)
        self.notified.set()

    def on_state(self, up: bool, reason: str) -> None:
        if up:
            self.listening.set()

    async def next_change(self) -> str:
        await asyncio.wait_for(self.notified.wait(), 10)
        self.notified.clear()
        return self.origins[-1]


@pytest.fixture
async def watched(pg_url: str) -> AsyncIterator[Watched]:
    store = PostgresAccountStore(pg_url, CountingHasher(), pool_size=2, origin="node-a")
    watch = Watched(store)
    task = asyncio.ensure_future(store.watch(watch.on_change, watch.on_state))
    await asyncio.wait_for(watch.listening.wait(), 10)
    yield watch
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await store.close()


async def test_a_change_on_one_node_clears_the_repeat_login_cache_on_another(
    watched: Watched, pg_url: str
) -> None:
    store = watched.store
    await store.add("alice", "old")
    await watched.next_change()  # its own write comes back too
    assert await store.authenticate("alice", "old") is not None
    assert store.authenticate_cached("alice", "old") is not None  # from memory, no query
    other = PostgresAccountStore(pg_url, CountingHasher(), pool_size=1, origin="node-b")
    try:
        await other.set_password("alice", "new")
        assert await watched.next_change() == "node-b"
        assert store.authenticate_cached("alice", "old") is None
        assert await store.authenticate("alice", "old") is None
        assert await store.authenticate("alice", "new") is not None
        assert store.authenticate_cached("alice", "new") is not None
        await other.set_enabled("alice", False)
        await watched.next_change()
        assert store.authenticate_cached("alice", "new") is None
        await other.set_perms("alice", Perm.READ)
        await other.set_enabled("alice", True)
        await watched.next_change()
        user = await store.authenticate("alice", "new")
        assert user is not None and user.perms == Perm.READ
    finally:
        await other.close()


async def test_without_a_watch_nothing_is_answered_from_memory(pg_url: str) -> None:
    async with PostgresAccountStore(pg_url, CountingHasher(), pool_size=1) as store:
        await store.add("alice", "pw")
        assert await store.authenticate("alice", "pw") is not None
        assert store.authenticate_cached("alice", "pw") is None  # no notifications: no trust


async def test_an_older_schema_is_migrated_and_data_kept(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for statement in POSTGRES[0]:
            conn.execute(statement)  # type: ignore[call-overload]
        conn.execute("INSERT INTO schema_version VALUES (1)")
        conn.execute(
            "INSERT INTO groups VALUES ('staff', 'kept across the migration')",
        )
    async with PostgresAccountStore(pg_url, CountingHasher(), pool_size=1) as store:
        assert store.read("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
        assert store.read("SELECT description FROM groups") == [("kept across the migration",)]
        assert store.read("SELECT count(*) FROM nodes") == [(0,)]  # version 2's tables
    async with PostgresAccountStore(pg_url, CountingHasher(), pool_size=1) as again:
        assert again.read("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    await PostgresAccountStore(pg_url, CountingHasher(), pool_size=1).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(AccountError, match="newer"):
        PostgresAccountStore(pg_url, CountingHasher(), pool_size=1)


async def test_an_unreachable_database_is_named_without_its_password() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    url = f"postgresql://pasv:topsecret@127.0.0.1:{port}/pasv"
    with pytest.raises(StoreUnavailable) as refused:
        PostgresAccountStore(url, CountingHasher(), pool_size=1, timeout=1.0)
    assert "cannot be reached" in str(refused.value)
    assert f"127.0.0.1:{port}" in str(refused.value)
    assert "topsecret" not in str(refused.value)


def test_safe_url_hides_only_the_password() -> None:
    assert (
        safe_url("postgresql://u:p%40ss@db.example:5433/x")
        == "postgresql://u:****@db.example:5433/x"
    )
    assert safe_url("postgresql://db/x") == "postgresql://db/x"
