"""What the policy store needs of a SQL account database, whichever engine holds it."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from pasv.accounts.base import AccountError, AccountStore

__all__ = [
    "CHANNEL",
    "AccountDatabase",
    "Cursor",
    "DuplicateKey",
    "SqlDatabase",
    "StoreUnavailable",
    "Tx",
]

T = TypeVar("T")
CHANNEL = "pasv"  # PostgreSQL's LISTEN/NOTIFY channel of changes and session kicks


class DuplicateKey(AccountError):
    """An insert met a row with the same key (a user, group or ban that already exists)."""


class StoreUnavailable(AccountError):
    """The database cannot be reached now; the text says why (never the password)."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> builtins.list[Any]: ...


class Tx(Protocol):
    """One connection inside a transaction. SQL uses ``?`` placeholders on every engine."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, params: Iterable[Sequence[Any]], /) -> object: ...


@runtime_checkable
class SqlDatabase(Protocol):
    """Reads, transactions and a change signal; SQLite and PostgreSQL implement it."""

    #: True when other writers' changes are announced (PostgreSQL NOTIFY): nothing to poll
    pushes_changes: bool

    def read(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[Any]: ...

    def run(self, work: Callable[[Tx], T]) -> T: ...

    def data_version(self) -> int: ...


@runtime_checkable
class AccountDatabase(AccountStore, SqlDatabase, Protocol):
    """An account store whose database also holds the policy (both built-in stores)."""
