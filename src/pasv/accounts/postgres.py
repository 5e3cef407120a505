"""PostgresAccountStore: accounts, policy and cluster state in PostgreSQL (psycopg 3, a pool).

Every write sends ``NOTIFY pasv`` in its own transaction; each node LISTENs (``watch``) and
forgets what it remembered (user rows for repeat logins, the compiled policy) when one arrives,
so a password, policy or ban changed anywhere is seen everywhere at once. While the listening
connection is down, nothing remembered is trusted and the store reports itself unavailable.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
import threading
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from argon2 import PasswordHasher
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from pasv.accounts.base import AccountError
from pasv.accounts.migrations import POSTGRES, check_version
from pasv.accounts.passwords import VerifiedCache
from pasv.accounts.sqlbase import CHANNEL, Cursor, DuplicateKey, StoreUnavailable, Tx
from pasv.accounts.sqlstore import Row, SqlAccountStore

__all__ = ["CHANNEL", "SCHEMA_VERSION", "PostgresAccountStore", "safe_url"]

log = logging.getLogger("pasv.accounts")

SCHEMA_VERSION = len(POSTGRES)
T = TypeVar("T")
_MIGRATION_LOCK = 0x70617376  # pg_advisory_xact_lock key: one node migrates at a time
_MAX_ROWS = 10_000
_PLACEHOLDER = re.compile(r"\?")


def safe_url(url: str) -> str:
    """The URL with its password replaced, for logs and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _pg(sql: str) -> str:
    """``?`` placeholders (written for both engines) as psycopg's ``%s``."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _PgTx:
    """A psycopg connection seen through the ``Tx`` protocol (``?`` placeholders)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        return self._conn.execute(_pg(sql), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> object:
        with self._conn.cursor() as cursor:
            cursor.executemany(_pg(sql), params)
        return None


class PostgresAccountStore(SqlAccountStore):
    """Users and policy in PostgreSQL through a connection pool; calls block (run them from a
    thread on the event loop, or directly from the CLI), like the SQLite store's."""

    pushes_changes = True

    def __init__(
        self,
        url: str,
        hasher: PasswordHasher | None = None,
        *,
        cache: VerifiedCache | None = None,
        pool_size: int = 8,
        timeout: float = 3.0,
        origin: str = "",
    ) -> None:
        """``timeout``: seconds to wait for a connection (the database unreachable: a clear
        error, not a hang). ``origin`` names the writer in its notifications."""
        super().__init__(hasher, cache)
        self.url = url
        self.origin = origin
        self.timeout = timeout
        self._local = threading.local()  # the connection of a transaction running here
        self._rows: dict[str, Row | None] = {}
        self._lookups: dict[str, asyncio.Future[Row | None]] = {}
        self._version = 0  # bumped by every notification: data_version()
        self.available = True  # the listening connection is up (or no watch runs)
        self.reason = ""  # why not, when not
        self._watching = False
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout))},
            check=ConnectionPool.check_connection,
            open=False,
            name="pasv-accounts",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(
                f"the account database {safe_url(url)} cannot be reached: {_reason(exc)}"
            ) from None
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self) -> None:
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            version = int(row[0]) if row else 0
            check_version(version, SCHEMA_VERSION)
            for number, statements in enumerate(POSTGRES[version:], start=version + 1):
                for statement in statements:
                    conn.execute(statement)
                log.info("account database migrated to schema version %d", number)
            if row is None:
                conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
            elif version != SCHEMA_VERSION:
                conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))

    # --- plumbing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection of the transaction running in this thread, else one from the pool;
        the database's failures become StoreUnavailable, a duplicate key DuplicateKey."""
        joined = getattr(self._local, "conn", None)
        if joined is not None:
            yield joined
            return
        if self._watching and not self.available:
            raise StoreUnavailable(self.reason)
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(_reason(exc)) from None
        except PoolClosed:
            raise AccountError("account store is closed") from None
        except (PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailable(
                f"the account database {safe_url(self.url)} cannot be reached: {_reason(exc)}"
            ) from None

    def _query(self, sql: str, params: Sequence[Any]) -> builtins.list[Any]:
        with self._connection() as conn:
            return conn.execute(_pg(sql), params).fetchall()

    def _modify(self, sql: str, params: Sequence[Any]) -> int:
        return self.run(lambda tx: tx.execute(sql, params).rowcount)

    def run(self, work: Callable[[Tx], T], *, notify: bool = True) -> T:
        """Run ``work`` in one transaction that also notifies every node of the change (a call
        made from inside ``work`` joins the transaction). ``notify`` False: cluster
        bookkeeping (heartbeats, sessions, locks), which nobody needs to reload for."""
        if getattr(self._local, "conn", None) is not None:
            try:
                return work(_PgTx(self._local.conn))
            except psycopg.errors.UniqueViolation as exc:
                raise DuplicateKey(_reason(exc)) from None
        with self._connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                result = work(_PgTx(conn))
                if notify:
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.origin))
            finally:
                self._local.conn = None
            return result

    def data_version(self) -> int:
        return self._version

    def invalidate(self) -> None:
        """Something changed (a notification came, or the watch reconnected): forget rows."""
        self._version += 1
        self._rows.clear()

    def _fetch_fresh(self, name: str) -> Row | bool | None:
        """A row remembered since the last notification; False when not remembered (the
        caller asks the database from a thread) or when notifications cannot be trusted."""
        if not self._watching or not self.available:
            return False
        return self._rows.get(name, False)

    async def _lookup(self, name: str) -> Row | None:
        """Concurrent lookups of one name share one query (a client opening ten sessions at
        once then also shares one argon2 verification, as on SQLite)."""
        running = self._lookups.get(name)
        if running is None:
            running = asyncio.ensure_future(self._lookup_once(name))
            self._lookups[name] = running
            running.add_done_callback(lambda _: self._lookups.pop(name, None))
        return await asyncio.shield(running)

    async def _lookup_once(self, name: str) -> Row | None:
        version = self._version
        row = await asyncio.to_thread(self._fetch, name)
        if self._watching and self.available and version == self._version:
            if len(self._rows) >= _MAX_ROWS:
                self._rows.clear()
            self._rows[name] = row
        return row

    def _close(self) -> None:
        self._pool.close()

    # --- notifications -----------------------------------------------------------------------
    async def watch(
        self,
        on_change: Callable[[str], Awaitable[None]],
        on_state: Callable[[bool, str], None] | None = None,
        *,
        retry: float = 1.0,
    ) -> None:
        """LISTEN until cancelled: each notification (payload: the writer's origin) calls
        ``on_change``; a lost connection marks the store unavailable and is made again every
        ``retry`` seconds, and the first success after it calls ``on_change("reconnected")``."""
        self._watching = True
        first = True
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=max(1, round(self.timeout))
                )
            except (psycopg.OperationalError, OSError) as exc:
                self._down(exc, on_state)
                await asyncio.sleep(retry)  # pacing the reconnection, not a synchronisation
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    recovered = not self.available
                    self.available, self.reason = True, ""
                    self.invalidate()
                    if recovered:
                        log.warning("account database reachable again: %s", safe_url(self.url))
                    if on_state is not None:
                        on_state(True, "")
                    if not first:
                        await on_change("reconnected")
                    first = False
                    async for note in conn.notifies():
                        self.invalidate()
                        await on_change(note.payload)
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError) as exc:
                self._down(exc, on_state)
                first = False
                await asyncio.sleep(retry)

    def _down(self, exc: BaseException, on_state: Callable[[bool, str], None] | None) -> None:
        reason = f"the account database {safe_url(self.url)} cannot be reached: {_reason(exc)}"
        if self.available:
            log.warning("%s; new logins are refused until it is back", reason)
        self.available, self.reason = False, reason
        self.invalidate()
        if on_state is not None:
            on_state(False, reason)


def open_postgres(url: str, **options: Any) -> PostgresAccountStore:
    """The store, or AccountError saying why not (an unreachable or too new database)."""
    try:
        return PostgresAccountStore(url, **options)
    except psycopg.Error as exc:
        raise AccountError(f"{safe_url(url)}: {_reason(exc)}") from None
