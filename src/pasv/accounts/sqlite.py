"""SqliteAccountStore: the embedded default account store (stdlib sqlite3, WAL, argon2)."""

from __future__ import annotations

import asyncio
import builtins
import os
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

from argon2 import PasswordHasher

from pasv.accounts.base import AccountError, AccountExists, AccountNotFound, validate_name
from pasv.accounts.passwords import VerifiedCache, hash_password, verify_password
from pasv.policy.models import Perm, User

__all__ = ["SCHEMA_VERSION", "SqliteAccountStore", "holds_store"]

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            home TEXT NOT NULL DEFAULT '',
            perms TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            created REAL NOT NULL
        )""",
    ),
    (
        """CREATE TABLE groups (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE memberships (
            user TEXT NOT NULL,
            grp TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (user, grp)
        )""",
        """CREATE TABLE options (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (scope, key)
        )""",
        """CREATE TABLE rules (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            subjects TEXT NOT NULL,
            path TEXT NOT NULL,
            perms TEXT NOT NULL
        )""",
        """CREATE TABLE ip_rules (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            network TEXT NOT NULL,
            scope TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE bans (
            ip TEXT PRIMARY KEY,
            until REAL NOT NULL,
            reason TEXT NOT NULL,
            offences INTEGER NOT NULL DEFAULT 1,
            created REAL NOT NULL
        )""",
        """CREATE TABLE usage (
            user TEXT PRIMARY KEY,
            credit INTEGER NOT NULL DEFAULT 0,
            bytes_used INTEGER NOT NULL DEFAULT 0,
            files_used INTEGER NOT NULL DEFAULT 0
        )""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
T = TypeVar("T")
_COLUMNS = "name, password_hash, home, perms, enabled"
# The two copies of the WAL-index header at the start of the "-shm" file: every commit, by any
# connection of any process, changes them (https://sqlite.org/walformat.html).
_WAL_HEADER = 96
_MAX_ROWS = 10_000  # users whose row is remembered for repeat logins


class _Row(NamedTuple):
    name: str
    password_hash: str
    home: str
    perms: str
    enabled: int

    def user(self) -> User:
        return User(name=self.name, home=self.home, perms=Perm.parse(self.perms))


def _open_shm(path: Path | str, nofollow: bool = False) -> int | None:
    """A read-only descriptor of the database's WAL index, or None (in memory, no WAL)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
    try:
        return os.open(f"{os.fspath(path)}-shm", flags)
    except OSError:
        return None


def holds_store(path: Path) -> bool:
    """Whether ``path`` is a pasv account database (opened read-only: nothing is created)."""
    if not path.is_file():
        return False
    uri = f"file:{urllib.parse.quote(os.fspath(path.absolute()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=10.0)
    except sqlite3.Error:
        return False
    try:
        return conn.execute("SELECT version FROM schema_version").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _check_password(password: str) -> None:
    if not password:
        raise ValueError("password must not be empty")


class SqliteAccountStore:
    """Users in one SQLite file behind one lock; writes and scans run in a worker thread."""

    def __init__(
        self,
        path: Path | str,
        hasher: PasswordHasher | None = None,
        *,
        cache: VerifiedCache | None = None,
        nofollow: bool = False,
    ) -> None:
        """``nofollow``: refuse a database, -wal or -shm file that is a symbolic link (root
        opening a directory another user owns)."""
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._cache = cache if cache is not None else VerifiedCache()
        self._lock = threading.RLock()
        self._depth = 0  # run() calls nested in one transaction
        self._dummy_hash: str | None = None
        self._inflight: dict[tuple[bytes, str], asyncio.Future[bool]] = {}
        name = os.fspath(path)
        if nofollow:
            name = f"file:{urllib.parse.quote(name)}?nofollow=1"
        conn = sqlite3.connect(
            name, timeout=10.0, isolation_level=None, check_same_thread=False, uri=nofollow
        )
        try:
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        self._shm = _open_shm(path, nofollow)
        self._rows: dict[str, tuple[bytes, _Row | None]] = {}

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise AccountError(
                    f"account database schema version {version} is newer than this pasv "
                    f"supports ({SCHEMA_VERSION}); upgrade pasv"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- plumbing ----------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any]) -> builtins.list[Any]:
        with self._lock:
            if self._conn is None:
                raise AccountError("account store is closed")
            return self._conn.execute(sql, params).fetchall()

    def _modify(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock:
            if self._conn is None:
                raise AccountError("account store is closed")
            return self._conn.execute(sql, params).rowcount

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the connection under the store's lock, inside one transaction (a
        call made from inside ``work`` joins that transaction)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise AccountError("account store is closed")
            if self._depth:  # already inside a transaction: part of it
                return work(conn)
            conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1
            conn.execute("COMMIT")
            return result

    def read(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[Any]:
        """Rows of one query, run inline (reads never wait for writers in WAL mode)."""
        return self._query(sql, params)

    def data_version(self) -> int:
        """Changes when another connection (a CLI command, another worker) wrote the database."""
        return int(self._query("PRAGMA data_version", ())[0][0])

    def _fetch(self, name: str) -> _Row | None:
        """One primary-key lookup, run inline: in WAL mode a reader never waits for a writer, and
        a thread hop would cost more than the query (it is on every login's path)."""
        rows = self._query(f"SELECT {_COLUMNS} FROM users WHERE name = ?", (name,))
        return _Row(*rows[0]) if rows else None

    def _fetch_fresh(self, name: str) -> _Row | None:
        """``_fetch``, answered from memory while no commit happened since: a repeat login then
        costs no query. The header is read before the query, so a row is never older than it."""
        header = self._wal_header()
        if header is not None:
            seen = self._rows.get(name)
            if seen is not None and seen[0] == header:
                return seen[1]
        row = self._fetch(name)
        if header is not None:
            if len(self._rows) >= _MAX_ROWS:
                self._rows.clear()
            self._rows[name] = (header, row)
        return row

    def _wal_header(self) -> bytes | None:
        """The WAL-index header now, or None when there is none to watch (no WAL, closed)."""
        shm = self._shm
        if shm is None or self._conn is None:
            return None
        try:
            header = os.pread(shm, _WAL_HEADER, 0)
        except OSError:
            return None
        return header if len(header) == _WAL_HEADER else None

    async def _update(self, name: str, column: str, value: object) -> None:
        sql = f"UPDATE users SET {column} = ? WHERE name = ?"
        if not await asyncio.to_thread(self._modify, sql, (value, name)):
            raise AccountNotFound(f"no user named {name!r}")

    def _burn(self, password: str) -> None:
        """Verify against a throwaway hash so an unknown name costs what a known one does."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_urlsafe(24), self._hasher)
        verify_password(self._dummy_hash, password, self._hasher)

    # --- the AccountStore interface ------------------------------------------------------------
    async def get(self, name: str) -> User | None:
        row = self._fetch(name)
        return row.user() if row else None

    async def add(
        self, name: str, password: str, *, home: str = "", perms: Perm = Perm.ALL
    ) -> User:
        validate_name(name)
        _check_password(password)
        if self._fetch(name) is not None:
            raise AccountExists(f"user {name!r} already exists")
        hashed = await asyncio.to_thread(hash_password, password, self._hasher)
        sql = (
            "INSERT INTO users (name, password_hash, home, perms, enabled, created)"
            " VALUES (?, ?, ?, ?, 1, ?)"
        )
        try:
            await asyncio.to_thread(
                self._modify, sql, (name, hashed, home, perms.describe(), time.time())
            )
        except sqlite3.IntegrityError:
            raise AccountExists(f"user {name!r} already exists") from None
        return User(name=name, home=home, perms=perms)

    async def delete(self, name: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            conn.execute("DELETE FROM memberships WHERE user = ?", (name,))
            conn.execute("DELETE FROM options WHERE scope = ?", (f"user:{name}",))
            conn.execute("DELETE FROM usage WHERE user = ?", (name,))
            return bool(gone)

        return await asyncio.to_thread(self.run, work)

    async def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        if self._fetch(name) is None:
            raise AccountNotFound(f"no user named {name!r}")
        hashed = await asyncio.to_thread(hash_password, password, self._hasher)
        await self._update(name, "password_hash", hashed)

    async def set_home(self, name: str, home: str) -> None:
        await self._update(name, "home", home)

    async def set_perms(self, name: str, perms: Perm) -> None:
        await self._update(name, "perms", perms.describe())

    async def set_enabled(self, name: str, enabled: bool) -> None:
        await self._update(name, "enabled", int(enabled))

    async def is_enabled(self, name: str) -> bool:
        row = self._fetch(name)
        if row is None:
            raise AccountNotFound(f"no user named {name!r}")
        return bool(row.enabled)

    async def list(self) -> builtins.list[User]:
        sql = f"SELECT {_COLUMNS} FROM users ORDER BY name"
        rows = await asyncio.to_thread(self._query, sql, ())
        return [_Row(*r).user() for r in rows]

    async def count(self) -> int:
        rows = await asyncio.to_thread(self._query, "SELECT COUNT(*) FROM users", ())
        return int(rows[0][0])

    def authenticate_cached(self, name: str, password: str) -> User | None:
        """The user, when this exact name and password were verified before and the stored hash
        is unchanged; None means "not known from the cache: call authenticate()"."""
        row = self._fetch_fresh(name)
        if row is None or not row.enabled:
            return None
        return row.user() if self._cache.check(name, password, row.password_hash) else None

    async def authenticate(self, name: str, password: str) -> User | None:
        row = self._fetch(name)
        if row is None or not row.enabled:
            await asyncio.to_thread(self._burn, password)
            return None
        if self._cache.check(name, password, row.password_hash):
            return row.user()
        # Concurrent logins with the same name and password (a client opening ten connections,
        # a crowd after a restart) share one argon2 verification instead of paying one each.
        key = (self._cache.key(name, password), row.password_hash)
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._verify(row, password))
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        return row.user() if await asyncio.shield(running) else None

    async def _verify(self, row: _Row, password: str) -> bool:
        result = await asyncio.to_thread(verify_password, row.password_hash, password, self._hasher)
        if not result.ok:
            return False
        stored = row.password_hash
        if result.needs_rehash:
            fresh = await asyncio.to_thread(hash_password, password, self._hasher)
            sql = "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?"
            if await asyncio.to_thread(self._modify, sql, (fresh, row.name, stored)):
                stored = fresh
        self._cache.add(row.name, password, stored)
        return True

    def _close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            shm, self._shm = self._shm, None
            if shm is not None:
                os.close(shm)
            if conn is not None:
                conn.close()

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
