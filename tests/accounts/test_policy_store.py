"""The policy store on both engines: one SQL text for SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.accounts.test_stores import CountingHasher

from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlbase import AccountDatabase
from pasv.accounts.sqlite import SqliteAccountStore
from pasv.policy.models import Action, IpRule, Perm, Rule, Subject


@pytest.fixture(params=["sqlite", "postgres"])
async def policy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[PolicyStore]:
    db: AccountDatabase
    if request.param == "sqlite":
        db = SqliteAccountStore(tmp_path / "accounts.sqlite3", CountingHasher())
    else:
        from pasv.accounts.postgres import PostgresAccountStore

        db = PostgresAccountStore(request.getfixturevalue("pg_url"), CountingHasher(), pool_size=2)
    await db.add("alice", "pw")
    yield PolicyStore(db)
    await db.close()


def test_groups_memberships_and_settings(policy: PolicyStore) -> None:
    policy.add_group("staff", "the staff")
    policy.add_group("guests")
    with pytest.raises(ValueError, match="already exists"):
        policy.add_group("staff")
    policy.set_groups("alice", ["staff", "guests"])
    assert policy.groups_of("alice") == ["staff", "guests"]
    assert policy.members_of("staff") == ["alice"]
    policy.set_option("user:alice", "max_sessions_per_ip", 2)
    policy.set_option("user:alice", "max_sessions_per_ip", 3)  # replaced, not duplicated
    assert policy.options("user:alice") == {"max_sessions_per_ip": 3}
    policy.set_message("per_ip", "one at a time")
    data = policy.load()
    assert data.members["alice"].groups == ("staff", "guests")
    assert data.members["alice"].options == {"max_sessions_per_ip": 3}
    assert data.messages.per_ip == "one at a time"
    assert policy.unset_option("user:alice", "max_sessions_per_ip")
    assert policy.delete_group("guests")
    assert policy.groups_of("alice") == ["staff"]


def test_rules_and_ip_rules_get_their_ids(policy: PolicyStore) -> None:
    first = policy.add_rule(Rule(Action.ALLOW, (Subject.parse("*"),), "/", Perm.READ))
    second = policy.add_rule(Rule(Action.DENY, (Subject.parse("alice"),), "/x", Perm.WRITE))
    assert second > first > 0
    assert [r.id for r in policy.rules()] == [first, second]
    net = policy.add_ip_rule(IpRule(Action.DENY, ipaddress.ip_network("192.0.2.0/24")))
    assert [r.id for r in policy.ip_rules()] == [net]
    assert policy.delete_rule(first) and not policy.delete_rule(first)


def test_bans_are_replaced_and_lifted(policy: PolicyStore) -> None:
    policy.ban("192.0.2.7", 60, "too many failures", 1)
    policy.ban("192.0.2.7", 120, "again", 2)
    bans = policy.bans()
    assert list(bans) == ["192.0.2.7"]
    assert bans["192.0.2.7"].reason == "again" and policy.offences("192.0.2.7") == 2
    assert policy.lift("192.0.2.7") and policy.bans() == {}


def test_credit_is_taken_only_when_there_is_enough(policy: PolicyStore) -> None:
    assert policy.start_usage("alice", 100, 0, 0).credit == 100
    assert policy.start_usage("alice", 999, 5, 5).credit == 100  # created once
    assert policy.reserve_credit("alice", 60)
    assert not policy.reserve_credit("alice", 60)
    policy.change_usage("alice", credit=10, bytes_used=-50, files=-3)  # never below zero
    usage = policy.usage("alice")
    assert usage is not None and (usage.credit, usage.bytes_used, usage.files_used) == (50, 0, 0)
    policy.set_storage_used("alice", 4096, 2)
    policy.set_credit("alice", 7)
    usage = policy.usage("alice")
    assert usage is not None and (usage.credit, usage.bytes_used, usage.files_used) == (7, 4096, 2)


def test_atomically_is_all_or_nothing(policy: PolicyStore) -> None:
    def work() -> None:
        policy.add_group("first")
        policy.add_group("first")  # a duplicate: the whole change is undone

    with pytest.raises(ValueError, match="already exists"):
        policy.atomically(work)
    assert policy.groups() == []
