"""Argon2 password hashing, and a cache of recently verified passwords keyed by an HMAC."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "Verification",
    "VerifiedCache",
    "hash_password",
    "light_hasher",
    "verify_password",
]


class Verification(NamedTuple):
    """The outcome of checking a password against a stored hash."""

    ok: bool
    needs_rehash: bool


def _encode(password: str) -> bytes:
    # "surrogatepass" so a lone surrogate cannot crash a login; equals UTF-8 otherwise.
    return password.encode("utf-8", "surrogatepass")


def light_hasher() -> PasswordHasher:
    """Cheap argon2 parameters for tests; never for stored production passwords."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    """An argon2id hash string (salted) for ``password``. Blocking: call off the event loop."""
    return (hasher or PasswordHasher()).hash(_encode(password))


def verify_password(
    stored_hash: str, password: str, hasher: PasswordHasher | None = None
) -> Verification:
    """Whether ``password`` matches, and whether the hash needs redoing with current parameters."""
    hasher = hasher or PasswordHasher()
    try:
        hasher.verify(stored_hash, _encode(password))
    except (VerificationError, InvalidHashError):
        return Verification(False, False)
    return Verification(True, hasher.check_needs_rehash(stored_hash))


class VerifiedCache:
    """A bounded LRU of MAC(name, password) -> the stored hash it was verified against.

    Only keyed digests under a random per-process secret are kept, never a password. An entry
    counts only while the account's stored hash is unchanged, so a password change invalidates it.
    """

    def __init__(self, maxsize: int = 10_000, secret: bytes | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._maxsize = maxsize
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, name: str, password: str) -> bytes:
        """The MAC that stands for this name and password (never the password itself)."""
        message = name.encode("utf-8", "surrogatepass") + b"\0" + _encode(password)
        # Keyed BLAKE2b is a MAC by design, and several times cheaper than HMAC-SHA256 here.
        return hashlib.blake2b(message, key=self._secret, digest_size=32).digest()

    def check(self, name: str, password: str, stored_hash: str) -> bool:
        """True if this name and password were verified against exactly ``stored_hash``."""
        key = self.key(name, password)
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                return False
            if not hmac.compare_digest(cached.encode(), stored_hash.encode()):
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def add(self, name: str, password: str, stored_hash: str) -> None:
        """Remember a successful verification of ``password`` against ``stored_hash``."""
        key = self.key(name, password)
        with self._lock:
            self._entries[key] = stored_hash
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
