"""SqliteAccountStore: the embedded default account store (stdlib sqlite3, WAL, argon2)."""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher

from pasv.accounts.base import AccountError
from pasv.accounts.migrations import SQLITE, apply_sqlite
from pasv.accounts.passwords import VerifiedCache
from pasv.accounts.sqlbase import DuplicateKey, Tx
from pasv.accounts.sqlstore import Row, SqlAccountStore

__all__ = ["SCHEMA_VERSION", "SqliteAccountStore", "holds_store"]

SCHEMA_VERSION = len(SQLITE)
T = TypeVar("T")
# The two copies of the WAL-index header at the start of the "-shm" file: every commit, by any
# connection of any process, changes them (https://sqlite.org/walformat.html).
_WAL_HEADER = 96
_MAX_ROWS = 10_000  # users whose row is remembered for repeat logins


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


class SqliteAccountStore(SqlAccountStore):
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
        super().__init__(hasher, cache)
        self._lock = threading.RLock()
        self._depth = 0  # run() calls nested in one transaction
        name = os.fspath(path)
        if nofollow:
            name = f"file:{urllib.parse.quote(name)}?nofollow=1"
        conn = sqlite3.connect(
            name, timeout=10.0, isolation_level=None, check_same_thread=False, uri=nofollow
        )
        try:
            apply_sqlite(conn)
        except BaseException:
            conn.close()
            raise
        self._conn: sqlite3.Connection | None = conn
        self._shm = _open_shm(path, nofollow)
        self._rows: dict[str, tuple[bytes, Row | None]] = {}

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
            try:
                return self._conn.execute(sql, params).rowcount
            except sqlite3.IntegrityError as exc:
                raise DuplicateKey(str(exc)) from None

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` on the connection under the store's lock, inside one transaction (a
        call made from inside ``work`` joins that transaction)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise AccountError("account store is closed")
            if self._depth:  # already inside a transaction: part of it
                try:
                    return work(conn)
                except sqlite3.IntegrityError as exc:
                    raise DuplicateKey(str(exc)) from None
            conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                result = work(conn)
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                raise DuplicateKey(str(exc)) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1
            conn.execute("COMMIT")
            return result

    def data_version(self) -> int:
        """Changes when another connection (a CLI command, another worker) wrote the database."""
        return int(self._query("PRAGMA data_version", ())[0][0])

    def _fetch_fresh(self, name: str) -> Row | None:
        """``_fetch``, answered from memory while no commit happened since: a repeat login then
        costs no query. The header is read before the query, so a row is never older than it.
        The lookup runs inline: in WAL mode a reader never waits for a writer, and a thread hop
        would cost more than the query (it is on every login's path)."""
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

    def _close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            shm, self._shm = self._shm, None
            if shm is not None:
                os.close(shm)
            if conn is not None:
                conn.close()
