"""The account store interface, its errors, and the rule for valid user names."""

from __future__ import annotations

import builtins
import unicodedata
from collections.abc import Collection
from typing import Protocol, runtime_checkable

from pasv.policy.models import Perm, User

__all__ = [
    "MAX_NAME_LENGTH",
    "RESERVED_NAMES",
    "AccountError",
    "AccountExists",
    "AccountNotFound",
    "AccountStore",
    "validate_name",
]

MAX_NAME_LENGTH = 64
RESERVED_NAMES = frozenset({"anonymous", "ftp"})


class AccountError(Exception):
    """Base of the account store's own errors."""


class AccountExists(AccountError):
    """A user of that name already exists."""


class AccountNotFound(AccountError):
    """No user of that name exists."""


def validate_name(name: str) -> str:
    """Return ``name`` if it can be a stored account name, else raise ValueError saying why."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"user name must be 1 to {MAX_NAME_LENGTH} characters long")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise ValueError("user name must not contain control characters")
    if "/" in name:
        raise ValueError("user name must not contain '/'")
    if name != name.strip():
        raise ValueError("user name must not begin or end with white space")
    if name.lower() in RESERVED_NAMES:
        raise ValueError(f"user name {name!r} is reserved for anonymous login")
    return name


@runtime_checkable
class AccountStore(Protocol):
    """Named users with argon2-hashed passwords, a home directory and permissions."""

    async def get(self, name: str) -> User | None: ...

    async def add(
        self, name: str, password: str, *, home: str = "", perms: Perm = Perm.ALL
    ) -> User:
        """Create a user; raises AccountExists, or ValueError for a bad name or password."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove a user; False if there was none."""
        ...

    async def set_password(self, name: str, password: str) -> None: ...

    async def set_home(self, name: str, home: str) -> None: ...

    async def set_perms(self, name: str, perms: Perm) -> None: ...

    async def set_enabled(self, name: str, enabled: bool) -> None: ...

    async def standing(self, names: Collection[str]) -> dict[str, tuple[User, bool]]:
        """Each named account as stored now (its credential fingerprint set) and whether it is
        enabled; a name with no account is absent. Logged-in sessions are checked by it."""
        ...

    async def list(self) -> builtins.list[User]: ...

    async def count(self) -> int: ...

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right and the account enabled, else None."""
        ...

    def authenticate_cached(self, name: str, password: str) -> User | None:
        """The user when this name and password were verified before and nothing changed since;
        None when the full (slow, argon2) authenticate() is needed. Never blocks for long."""
        ...

    async def close(self) -> None: ...
