"""Both account stores, SQLite (a real file) and PostgreSQL (a throwaway server): CRUD,
authentication, the repeat-login cache, persistence, schema versions. The tests that take
``store`` or ``reopen`` run on each engine; those that read the SQLite file itself on SQLite."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher

from pasv.accounts.base import AccountError, AccountExists, AccountNotFound, AccountStore
from pasv.accounts.sqlbase import AccountDatabase
from pasv.accounts.sqlite import SCHEMA_VERSION, SqliteAccountStore
from pasv.policy.models import Perm, User


class CountingHasher(PasswordHasher):
    """A light PasswordHasher that counts how often argon2 actually runs."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=8192, parallelism=1)
        self.verify_calls = 0
        self.hash_calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verify_calls += 1
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self.hash_calls += 1
        return super().hash(password, salt=salt)


def _raw_bytes(path: Path) -> bytes:
    return path.read_bytes()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "accounts.db"


Opener = Callable[[], AccountDatabase]


@pytest.fixture(params=["sqlite", "postgres"])
async def reopen(
    request: pytest.FixtureRequest, db_path: Path, hasher: CountingHasher
) -> AsyncIterator[Opener]:
    """Opens another store on the same database (each is closed by the test or at the end)."""
    opened: list[AccountDatabase] = []
    if request.param == "sqlite":

        def opener() -> AccountDatabase:
            opened.append(SqliteAccountStore(db_path, hasher))
            return opened[-1]
    else:
        from pasv.accounts.postgres import PostgresAccountStore

        url = request.getfixturevalue("pg_url")

        def opener() -> AccountDatabase:
            opened.append(PostgresAccountStore(url, hasher, pool_size=2))
            return opened[-1]

    yield opener
    for store in opened:
        await store.close()


@pytest.fixture
def store(reopen: Opener) -> AccountDatabase:
    return reopen()


@pytest.fixture
async def sqlite_store(db_path: Path, hasher: CountingHasher) -> AsyncIterator[SqliteAccountStore]:
    store = SqliteAccountStore(db_path, hasher)
    yield store
    await store.close()


async def test_add_get_and_protocol(store: AccountDatabase) -> None:
    assert isinstance(store, AccountStore)
    user = await store.add("alice", "pw", home="/srv/alice", perms=Perm.READ)
    assert user == User("alice", "/srv/alice", Perm.READ)
    assert await store.get("alice") == user
    assert await store.get("Alice") is None  # names are case-sensitive
    assert await store.get("nobody") is None


async def test_password_is_not_stored_in_plain_text(
    sqlite_store: SqliteAccountStore, db_path: Path
) -> None:
    store = sqlite_store
    await store.add("alice", "plain-text-password")
    await store.close()
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    conn.close()
    assert stored.startswith("$argon2id$")
    assert b"plain-text-password" not in _raw_bytes(db_path)


@pytest.mark.parametrize(
    "perms", [Perm.ALL, Perm.NONE, Perm.READ, Perm.WRITE, Perm.LIST | Perm.SITE]
)
async def test_perms_round_trip(store: AccountDatabase, perms: Perm) -> None:
    await store.add("bob", "pw", perms=perms)
    user = await store.get("bob")
    assert user is not None
    assert user.perms == perms


async def test_authenticate_right_and_wrong(store: AccountDatabase) -> None:
    await store.add("alice", "right", home="/h")
    found = await store.authenticate("alice", "right")
    assert found is not None and found.credential  # what a session's later checks compare
    assert dataclasses.replace(found, credential="") == User("alice", "/h", Perm.ALL)
    assert await store.authenticate("alice", "wrong") is None
    assert await store.authenticate("alice", "") is None
    assert await store.authenticate("ALICE", "right") is None


async def test_cache_hit_skips_argon2(store: AccountDatabase, hasher: CountingHasher) -> None:
    await store.add("alice", "right")
    assert await store.authenticate("alice", "right") is not None
    assert hasher.verify_calls == 1
    for _ in range(5):
        assert await store.authenticate("alice", "right") is not None
    assert hasher.verify_calls == 1
    assert await store.authenticate("alice", "wrong") is None  # a wrong one is never cached
    assert await store.authenticate("alice", "wrong") is None
    assert hasher.verify_calls == 3


async def test_concurrent_logins_share_one_verification(
    store: AccountDatabase, hasher: CountingHasher
) -> None:
    await store.add("alice", "right")
    right = await asyncio.gather(*(store.authenticate("alice", "right") for _ in range(20)))
    assert all(user is not None and user.name == "alice" for user in right)
    assert hasher.verify_calls == 1
    wrong = await asyncio.gather(*(store.authenticate("alice", "nope") for _ in range(5)))
    assert wrong == [None] * 5
    assert hasher.verify_calls == 2  # shared too, and never cached
    assert await store.authenticate("alice", "nope") is None
    assert hasher.verify_calls == 3


async def test_password_change_invalidates_cache(
    store: AccountDatabase, hasher: CountingHasher
) -> None:
    await store.add("alice", "old")
    assert await store.authenticate("alice", "old") is not None
    await store.set_password("alice", "new")
    assert await store.authenticate("alice", "old") is None
    assert await store.authenticate("alice", "new") is not None
    calls = hasher.verify_calls
    assert await store.authenticate("alice", "new") is not None
    assert hasher.verify_calls == calls


async def test_repeat_login_sees_every_change_at_once(
    sqlite_store: SqliteAccountStore, db_path: Path, hasher: CountingHasher
) -> None:
    """authenticate_cached answers a repeat login from memory, yet a change made by another
    connection (``pasv user`` in another process) or by this store counts from the next login."""
    store = sqlite_store
    await store.add("alice", "old")
    assert store.authenticate_cached("alice", "old") is None  # never verified yet
    assert await store.authenticate("alice", "old") is not None
    assert store.authenticate_cached("alice", "old") is not None
    assert store.authenticate_cached("alice", "old") is not None  # the remembered row
    other = SqliteAccountStore(db_path, hasher)
    try:
        await other.set_password("alice", "new")
        assert store.authenticate_cached("alice", "old") is None
        assert await store.authenticate("alice", "new") is not None
        assert store.authenticate_cached("alice", "new") is not None
        await other.set_enabled("alice", False)
        assert store.authenticate_cached("alice", "new") is None
        await other.set_enabled("alice", True)
        assert store.authenticate_cached("alice", "new") is not None
        await other.set_perms("alice", Perm.READ)
        user = store.authenticate_cached("alice", "new")
        assert user is not None and user.perms == Perm.READ
        assert await other.delete("alice")
        assert store.authenticate_cached("alice", "new") is None
    finally:
        await other.close()
    await store.add("alice", "again")
    assert await store.authenticate("alice", "again") is not None
    await store.set_password("alice", "changed")  # through this store's own connection
    assert store.authenticate_cached("alice", "again") is None


async def test_unknown_user_still_pays_for_a_verify(
    store: AccountDatabase, hasher: CountingHasher
) -> None:
    assert await store.authenticate("ghost", "pw") is None
    assert await store.authenticate("ghost", "pw") is None
    assert hasher.verify_calls == 2
    assert hasher.hash_calls == 1  # the dummy hash is made once


async def test_disabled_user_cannot_log_in(store: AccountDatabase) -> None:
    await store.add("alice", "pw")
    assert await store.authenticate("alice", "pw") is not None  # now cached
    await store.set_enabled("alice", False)
    assert not await store.is_enabled("alice")
    assert await store.authenticate("alice", "pw") is None
    assert await store.get("alice") is not None
    await store.set_enabled("alice", True)
    assert await store.authenticate("alice", "pw") is not None


async def test_rehash_when_parameters_grow(db_path: Path) -> None:
    async with SqliteAccountStore(db_path, CountingHasher(time_cost=1)) as weak:
        await weak.add("alice", "pw")
    with sqlite3.connect(db_path) as conn:
        before = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    conn.close()
    async with SqliteAccountStore(db_path, CountingHasher(time_cost=2)) as strong:
        assert await strong.authenticate("alice", "pw") is not None
        assert await strong.authenticate("alice", "pw") is not None
    with sqlite3.connect(db_path) as conn:
        after = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    conn.close()
    assert before != after
    assert "t=2" in after


async def test_duplicates_are_refused(store: AccountDatabase) -> None:
    await store.add("alice", "pw")
    with pytest.raises(AccountExists):
        await store.add("alice", "other")
    await store.add("Alice", "pw")  # a different name
    assert await store.count() == 2


async def test_delete(store: AccountDatabase) -> None:
    await store.add("alice", "pw")
    assert await store.authenticate("alice", "pw") is not None
    assert await store.delete("alice") is True
    assert await store.delete("alice") is False
    assert await store.get("alice") is None
    assert await store.authenticate("alice", "pw") is None
    await store.add("alice", "pw2")
    assert await store.authenticate("alice", "pw") is None
    assert await store.authenticate("alice", "pw2") is not None


async def test_updates_and_missing_users(store: AccountDatabase) -> None:
    await store.add("alice", "pw")
    await store.set_home("alice", "/new/home")
    await store.set_perms("alice", Perm.RETR | Perm.LIST)
    assert await store.get("alice") == User("alice", "/new/home", Perm.READ)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.set_password("ghost", "pw"),
        lambda: store.set_home("ghost", "/x"),
        lambda: store.set_perms("ghost", Perm.NONE),
        lambda: store.set_enabled("ghost", True),
        lambda: store.is_enabled("ghost"),
    ]
    for call in calls:
        with pytest.raises(AccountNotFound):
            await call()


async def test_list_and_count(store: AccountDatabase) -> None:
    assert await store.list() == []
    assert await store.count() == 0
    for name in ("carol", "alice", "bob"):
        await store.add(name, "pw")
    assert [u.name for u in await store.list()] == ["alice", "bob", "carol"]
    assert await store.count() == 3


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "1 to 64"),
        ("x" * 65, "1 to 64"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("tab\tname", "control"),
        ("a/b", "'/'"),
        ("anonymous", "reserved"),
        ("Anonymous", "reserved"),
        ("ftp", "reserved"),
        ("FTP", "reserved"),
        (" alice", "white space"),
    ],
)
async def test_name_validation(store: AccountDatabase, name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        await store.add(name, "pw")
    assert await store.count() == 0


async def test_valid_unusual_names(store: AccountDatabase) -> None:
    for name in ("x" * 64, "jürgen", "user@example.com", "first last", "ftpuser"):
        await store.add(name, "pw")
    assert await store.count() == 5


async def test_empty_password_is_refused(store: AccountDatabase) -> None:
    with pytest.raises(ValueError, match="password"):
        await store.add("alice", "")
    await store.add("alice", "pw")
    with pytest.raises(ValueError, match="password"):
        await store.set_password("alice", "")


async def test_persistence_across_reopen(db_path: Path, hasher: CountingHasher) -> None:
    first = SqliteAccountStore(db_path, hasher)
    await first.add("alice", "pw", home="/h", perms=Perm.NONE)
    await first.close()
    await first.close()  # idempotent
    second = SqliteAccountStore(db_path, hasher)
    try:
        assert await second.get("alice") == User("alice", "/h", Perm.NONE)
        assert await second.authenticate("alice", "pw") is not None
    finally:
        await second.close()


async def test_wal_mode_and_schema_version(sqlite_store: SqliteAccountStore, db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        conn.close()


async def test_newer_schema_is_refused(db_path: Path, hasher: CountingHasher) -> None:
    await SqliteAccountStore(db_path, hasher).close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE schema_version SET version = 999")
    conn.close()
    with pytest.raises(AccountError, match="newer"):
        SqliteAccountStore(db_path, hasher)


async def test_closed_store_refuses(store: AccountDatabase) -> None:
    await store.close()
    with pytest.raises(AccountError, match="closed"):
        await store.get("alice")
