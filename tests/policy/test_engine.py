"""The engine's order of checks and the layering of settings (pure: counts and clock passed in)."""

from __future__ import annotations

import ipaddress

import pytest

from pasv.policy.engine import Policy, PolicyData, SessionCounts
from pasv.policy.models import Action, Ban, Group, IpRule, Member, Perm, Rule, Subject, User
from pasv.policy.options import PolicySettings, parse_option
from pasv.protocol.errors import (
    LoginRefused,
    PathNotFound,
    PermissionDenied,
    ProhibitedName,
    Refused,
)

ALICE = User("alice", "", Perm.ALL)
NOW = 1_000_000.0


def _policy(**kw: object) -> Policy:
    return Policy(PolicyData(**kw), PolicySettings())  # type: ignore[arg-type]


def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_settings_layers_user_over_groups_over_global() -> None:
    policy = _policy(
        settings={"quota_bytes": 1, "upload_rate": 5},
        groups={
            "a": Group("a", options={"quota_bytes": 2, "max_sessions_per_user": 7}),
            "b": Group("b", options={"quota_bytes": 3, "download_rate": 9}),
        },
        members={"alice": Member("alice", ("a", "b"), {"upload_rate": 6})},
    )
    user = policy.with_groups(ALICE)
    assert user.groups == ("a", "b")
    got = policy.settings_for(user)
    assert got.quota_bytes == 2  # the first group listed wins over the second
    assert got.download_rate == 9  # set only by the second group
    assert got.upload_rate == 6  # the user's own value wins
    assert got.max_sessions_per_user == 7
    assert policy.settings_for(User("bob", "", Perm.ALL)).quota_bytes == 1  # global
    assert policy.counts_logins


def test_no_login_limits_means_no_counting() -> None:
    assert not _policy(settings={"quota_bytes": 5}).counts_logins


def test_connect_checks_ban_before_ip_before_clients() -> None:
    ban = Ban("10.9.9.9", NOW + 600, "Too many failed logins from your address")
    policy = _policy(
        settings={"max_clients": 1, "ban_allowlist": parse_option("ban_allowlist", "")},
        ip_rules=(IpRule(Action.DENY, _net("10.0.0.0/8")),),
    )
    with pytest.raises(Refused, match="banned for 10 minutes"):
        policy.check_connect("10.9.9.9", clients=5, ban=ban, now=NOW)
    with pytest.raises(Refused, match="not allowed to connect"):
        policy.check_connect("10.9.9.9", clients=5, ban=None, now=NOW)
    with pytest.raises(Refused, match="Too many users"):
        policy.check_connect("192.0.2.1", clients=2, ban=None, now=NOW)
    policy.check_connect("192.0.2.1", clients=1, ban=None, now=NOW)
    expired = Ban("192.0.2.1", NOW - 1, "old")
    policy.check_connect("192.0.2.1", clients=1, ban=expired, now=NOW)


def test_allowlisted_address_ignores_a_ban() -> None:
    policy = _policy()  # loopback is on the default allowlist
    ban = Ban("127.0.0.1", NOW + 600, "x")
    policy.check_connect("127.0.0.1", clients=1, ban=ban, now=NOW)


def test_login_checks_in_order() -> None:
    policy = _policy(
        settings={"max_sessions_per_ip": 1, "max_sessions_per_user": 1},
        groups={"g": Group("g", options={"max_users": 1})},
        members={"alice": Member("alice", ("g",))},
        ip_rules=(IpRule(Action.DENY, _net("192.0.2.0/24"), "user:alice"),),
    )
    user = policy.with_groups(ALICE)
    full = SessionCounts(same_ip=1, same_user=1, groups={"g": 1})
    with pytest.raises(LoginRefused, match="unauthorized IP address"):
        policy.check_login(user, "192.0.2.7", full)
    with pytest.raises(LoginRefused, match="only 1 session\\(s\\) from same IP"):
        policy.check_login(user, "198.51.100.1", full)
    with pytest.raises(LoginRefused, match="for user alice"):
        policy.check_login(user, "198.51.100.1", SessionCounts(same_user=1, groups={"g": 1}))
    with pytest.raises(Refused, match="group g allows 1"):
        policy.check_login(user, "198.51.100.1", SessionCounts(groups={"g": 1}))
    policy.check_login(user, "198.51.100.1", SessionCounts())


def test_per_command_rules_hidden_and_forbidden_names() -> None:
    policy = _policy(
        settings={"hidden_names": ("secret*",), "forbidden_names": ("*.exe",)},
        rules=(Rule(Action.DENY, (Subject.parse("*"),), "/ro", Perm.WRITE),),
    )
    policy.access(ALICE).check(Perm.STOR, "/rw/file")
    with pytest.raises(PermissionDenied, match="STOR is not allowed for you at /ro/x"):
        policy.access(ALICE).check(Perm.STOR, "/ro/x")
    with pytest.raises(PathNotFound):
        policy.access(ALICE).check_reachable("/docs/secret-plan/a.txt")
    policy.access(ALICE).check_reachable("/docs/plan/a.txt")
    with pytest.raises(ProhibitedName, match=r"Prohibited file name: setup\.EXE"):
        policy.access(ALICE).check_name("/up/setup.EXE")


def test_entry_filter() -> None:
    rules = (Rule(Action.DENY, (Subject.parse("alice"),), "/d/hidden", Perm.LIST),)
    assert _policy(rules=rules).access(ALICE).entry_filter("/d") is None  # hide_denied is off
    policy = _policy(settings={"hide_denied": True, "hidden_names": (".*",)}, rules=rules)
    visible = policy.access(ALICE).entry_filter("/d")
    assert visible is not None
    assert [n for n in ("a", "hidden", ".git") if visible(n)] == ["a"]
    assert (
        _policy(settings={"hide_denied": True}, rules=rules).access(ALICE).entry_filter("/x")
        is None
    )
