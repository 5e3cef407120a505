"""Argon2 hashing helpers and the HMAC-keyed verified-password cache."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from pasv.accounts.passwords import (
    Verification,
    VerifiedCache,
    hash_password,
    light_hasher,
    verify_password,
)


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def test_hash_and_verify(hasher: PasswordHasher) -> None:
    stored = hash_password("correct horse", hasher)
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse", hasher) == Verification(True, False)
    assert verify_password(stored, "wrong", hasher) == Verification(False, False)
    assert hash_password("correct horse", hasher) != stored  # salted


def test_unicode_and_lone_surrogate_passwords(hasher: PasswordHasher) -> None:
    stored = hash_password("pässwörd€", hasher)
    assert verify_password(stored, "pässwörd€", hasher).ok
    odd = hash_password("bad\udcff", hasher)
    assert verify_password(odd, "bad\udcff", hasher).ok
    assert not verify_password(odd, "bad", hasher).ok


def test_garbage_hash_is_a_mismatch_not_a_crash(hasher: PasswordHasher) -> None:
    assert verify_password("not-a-hash", "x", hasher) == Verification(False, False)
    assert verify_password("", "x", hasher) == Verification(False, False)


def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    stored = hash_password("pw", hasher)
    stronger = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)
    assert verify_password(stored, "pw", stronger) == Verification(True, True)


def test_light_hasher_is_light() -> None:
    params = light_hasher()
    assert params.time_cost == 1
    assert params.memory_cost == 8192


def test_cache_hit_only_for_same_name_password_and_hash() -> None:
    cache = VerifiedCache()
    cache.add("alice", "pw", "$hash1")
    assert cache.check("alice", "pw", "$hash1")
    assert not cache.check("alice", "other", "$hash1")
    assert not cache.check("bob", "pw", "$hash1")
    assert not cache.check("alic", "epw", "$hash1")  # the separator keeps fields apart


def test_cache_entry_dies_when_the_stored_hash_changes() -> None:
    cache = VerifiedCache()
    cache.add("alice", "pw", "$hash1")
    assert not cache.check("alice", "pw", "$hash2")
    assert len(cache) == 0
    assert not cache.check("alice", "pw", "$hash1")


def test_cache_is_bounded_lru() -> None:
    cache = VerifiedCache(maxsize=3)
    for i in range(3):
        cache.add(f"u{i}", "pw", "$h")
    assert cache.check("u0", "pw", "$h")  # u0 becomes most recent
    cache.add("u3", "pw", "$h")
    assert len(cache) == 3
    assert not cache.check("u1", "pw", "$h")  # least recently used went
    assert cache.check("u0", "pw", "$h")
    assert cache.check("u3", "pw", "$h")
    cache.clear()
    assert len(cache) == 0


def test_cache_never_holds_the_password() -> None:
    cache = VerifiedCache()
    cache.add("alice", "s3cr3t-password", "$hash")
    entries = cache._entries  # inspect the private store on purpose
    for key, value in entries.items():
        assert b"s3cr3t" not in key
        assert "s3cr3t" not in value
        assert len(key) == 32


def test_cache_keys_differ_per_secret() -> None:
    one = VerifiedCache(secret=b"a" * 32)
    two = VerifiedCache(secret=b"b" * 32)
    one.add("alice", "pw", "$h")
    assert not two.check("alice", "pw", "$h")


def test_cache_rejects_silly_size() -> None:
    with pytest.raises(ValueError):
        VerifiedCache(maxsize=0)
