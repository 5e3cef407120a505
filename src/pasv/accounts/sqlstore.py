"""SqlAccountStore: the account logic both databases share (argon2, the repeat-login cache)."""

from __future__ import annotations

import asyncio
import builtins
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

from argon2 import PasswordHasher

from pasv.accounts.base import AccountExists, AccountNotFound, validate_name
from pasv.accounts.passwords import VerifiedCache, hash_password, verify_password
from pasv.accounts.sqlbase import DuplicateKey, Tx
from pasv.policy.models import Perm, User

__all__ = ["SqlAccountStore"]

T = TypeVar("T")
COLUMNS = "name, password_hash, home, perms, enabled"


class Row(NamedTuple):
    name: str
    password_hash: str
    home: str
    perms: str
    enabled: int

    def user(self) -> User:
        return User(name=self.name, home=self.home, perms=Perm.parse(self.perms))

    def login(self) -> User:
        """The user as a login gets it: with the fingerprint of the password it was checked
        against, so a session can tell when the password changed (server/standing.py)."""
        return User(
            name=self.name,
            home=self.home,
            perms=Perm.parse(self.perms),
            credential=self.password_hash[-16:],
        )


def check_password(password: str) -> None:
    if not password:
        raise ValueError("password must not be empty")


class SqlAccountStore:
    """Users in a SQL database; an engine supplies the plumbing (``_query``, ``_modify``,
    ``run``, ``_fetch_fresh``, ``_close``, ``data_version``)."""

    pushes_changes = False

    def __init__(self, hasher: PasswordHasher | None, cache: VerifiedCache | None) -> None:
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._cache = cache if cache is not None else VerifiedCache()
        self._dummy_hash: str | None = None
        self._inflight: dict[tuple[bytes, str], asyncio.Future[str | None]] = {}

    # --- plumbing an engine provides ----------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any]) -> builtins.list[Any]:
        raise NotImplementedError

    def _modify(self, sql: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` inside one transaction (a call made from inside ``work`` joins it)."""
        raise NotImplementedError

    def data_version(self) -> int:
        """Changes when another connection (a CLI command, another worker or node) wrote."""
        raise NotImplementedError

    def _fetch_fresh(self, name: str) -> Row | bool | None:
        """The row from memory when nothing changed since it was read; False: not known
        without a query that may not be made here (the caller goes the slow way)."""
        raise NotImplementedError

    async def _lookup(self, name: str) -> Row | None:
        """``_fetch``, where the engine wants it run (inline for SQLite, a thread otherwise)."""
        return self._fetch(name)

    def _close(self) -> None:
        raise NotImplementedError

    # --- shared helpers -----------------------------------------------------------------------
    def read(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[Any]:
        """Rows of one query."""
        return self._query(sql, params)

    def _fetch(self, name: str) -> Row | None:
        rows = self._query(f"SELECT {COLUMNS} FROM users WHERE name = ?", (name,))
        return Row(*rows[0]) if rows else None

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
        row = await self._lookup(name)
        return row.user() if row else None

    async def add(
        self, name: str, password: str, *, home: str = "", perms: Perm = Perm.ALL
    ) -> User:
        validate_name(name)
        check_password(password)
        if await self._lookup(name) is not None:
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
        except DuplicateKey:
            raise AccountExists(f"user {name!r} already exists") from None
        return User(name=name, home=home, perms=perms)

    async def delete(self, name: str) -> bool:
        def work(conn: Tx) -> bool:
            gone = conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount
            conn.execute('DELETE FROM memberships WHERE "user" = ?', (name,))
            conn.execute("DELETE FROM options WHERE scope = ?", (f"user:{name}",))
            conn.execute('DELETE FROM usage WHERE "user" = ?', (name,))
            return bool(gone)

        return await asyncio.to_thread(self.run, work)

    async def set_password(self, name: str, password: str) -> None:
        check_password(password)
        if await self._lookup(name) is None:
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
        row = await self._lookup(name)
        if row is None:
            raise AccountNotFound(f"no user named {name!r}")
        return bool(row.enabled)

    async def standing(self, names: Collection[str]) -> dict[str, tuple[User, bool]]:
        """Each named account as stored now and whether it is enabled; a deleted one is absent."""
        wanted = sorted(set(names))
        found: dict[str, tuple[User, bool]] = {}
        for start in range(0, len(wanted), 500):  # SQLite takes at most 999 parameters
            part = wanted[start : start + 500]
            marks = ", ".join("?" * len(part))
            sql = f"SELECT {COLUMNS} FROM users WHERE name IN ({marks})"
            for raw in await asyncio.to_thread(self._query, sql, part):
                row = Row(*raw)
                found[row.name] = (row.login(), bool(row.enabled))
        return found

    async def list(self) -> builtins.list[User]:
        sql = f"SELECT {COLUMNS} FROM users ORDER BY name"
        rows = await asyncio.to_thread(self._query, sql, ())
        return [Row(*r).user() for r in rows]

    async def count(self) -> int:
        rows = await asyncio.to_thread(self._query, "SELECT COUNT(*) FROM users", ())
        return int(rows[0][0])

    def authenticate_cached(self, name: str, password: str) -> User | None:
        """The user, when this exact name and password were verified before and the stored hash
        is unchanged; None means "not known from the cache: call authenticate()"."""
        row = self._fetch_fresh(name)
        if not isinstance(row, Row) or not row.enabled:
            return None
        return row.login() if self._cache.check(name, password, row.password_hash) else None

    async def authenticate(self, name: str, password: str) -> User | None:
        row = await self._lookup(name)
        if row is None or not row.enabled:
            await asyncio.to_thread(self._burn, password)
            return None
        if self._cache.check(name, password, row.password_hash):
            return row.login()
        # Concurrent logins with the same name and password (a client opening ten connections,
        # a crowd after a restart) share one argon2 verification instead of paying one each.
        key = (self._cache.key(name, password), row.password_hash)
        running = self._inflight.get(key)
        if running is None:
            running = asyncio.ensure_future(self._verify(row, password))
            self._inflight[key] = running
            running.add_done_callback(lambda _: self._inflight.pop(key, None))
        stored = await asyncio.shield(running)  # the hash stored now (rehashed, maybe)
        return row._replace(password_hash=stored).login() if stored is not None else None

    async def _verify(self, row: Row, password: str) -> str | None:
        result = await asyncio.to_thread(verify_password, row.password_hash, password, self._hasher)
        if not result.ok:
            return None
        stored = row.password_hash
        if result.needs_rehash:
            fresh = await asyncio.to_thread(hash_password, password, self._hasher)
            sql = "UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?"
            if await asyncio.to_thread(self._modify, sql, (fresh, row.name, stored)):
                stored = fresh
        self._cache.add(row.name, password, stored)
        return stored

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
