"""IP rules: longest prefix, deny on a tie, allow-list semantics, scopes, address forms."""

from __future__ import annotations

import ipaddress

import pytest

from pasv.policy.models import Action, IpRule
from pasv.policy.network import IpDecision, IpRules, in_networks, parse_ip


def ip_rule(number: int, action: str, network: str, scope: str = "") -> IpRule:
    return IpRule(Action(action), ipaddress.ip_network(network), scope, id=number)


SERVER = ("",)
# (rules, address, scopes, allowed, deciding rule id or None)
CASES = {
    "no rules: allowed": ([], "127.0.0.1", SERVER, True, None),
    "deny list: listed address denied": (
        [ip_rule(1, "deny", "127.0.0.0/8")],
        "127.0.0.5",
        SERVER,
        False,
        1,
    ),
    "deny list: other address allowed": (
        [ip_rule(1, "deny", "127.0.0.0/24")],
        "127.1.0.5",
        SERVER,
        True,
        None,
    ),
    "allow list: listed address allowed": (
        [ip_rule(1, "allow", "127.0.0.0/24")],
        "127.0.0.9",
        SERVER,
        True,
        1,
    ),
    "allow list: other address denied": (
        [ip_rule(1, "allow", "127.0.0.0/24")],
        "127.0.1.9",
        SERVER,
        False,
        None,
    ),
    "longest prefix: deny inside allow": (
        [ip_rule(1, "allow", "127.0.0.0/8"), ip_rule(2, "deny", "127.0.0.128/25")],
        "127.0.0.200",
        SERVER,
        False,
        2,
    ),
    "longest prefix: allow inside deny": (
        [ip_rule(1, "deny", "127.0.0.0/8"), ip_rule(2, "allow", "127.0.0.1/32")],
        "127.0.0.1",
        SERVER,
        True,
        2,
    ),
    "equal prefix: deny beats allow": (
        [ip_rule(1, "allow", "127.0.0.0/16"), ip_rule(2, "deny", "127.0.0.0/16")],
        "127.0.3.4",
        SERVER,
        False,
        2,
    ),
    "equal prefix: deny beats allow in either order": (
        [ip_rule(1, "deny", "127.0.0.0/16"), ip_rule(2, "allow", "127.0.0.0/16")],
        "127.0.3.4",
        SERVER,
        False,
        1,
    ),
    "IPv6 allowed": ([ip_rule(1, "allow", "::1/128")], "::1", SERVER, True, 1),
    "IPv6 prefix": (
        [ip_rule(1, "deny", "2001:db8::/32"), ip_rule(2, "allow", "::/0")],
        "2001:db8::7",
        SERVER,
        False,
        1,
    ),
    "IPv6 outside the allow list": ([ip_rule(1, "allow", "::1/128")], "::2", SERVER, False, None),
    "IPv4 address against an IPv6 allow list": (
        [ip_rule(1, "allow", "::1/128")],
        "127.0.0.1",
        SERVER,
        False,
        None,
    ),
    "IPv4-mapped IPv6 counts as IPv4": (
        [ip_rule(1, "deny", "127.0.0.0/8")],
        "::ffff:127.0.0.1",
        SERVER,
        False,
        1,
    ),
    "zone suffix ignored": (
        [ip_rule(1, "allow", "fe80::/10")],
        "fe80::1%eth0",
        SERVER,
        True,
        1,
    ),
    "unparsable address denied": (
        [ip_rule(1, "deny", "127.0.0.9/32")],
        "nonsense",
        SERVER,
        False,
        None,
    ),
    "user scope applies at login": (
        [ip_rule(1, "allow", "127.0.0.1/32", "user:alice")],
        "127.0.0.2",
        ("", "user:alice"),
        False,
        None,
    ),
    "user scope ignored for another user": (
        [ip_rule(1, "allow", "127.0.0.1/32", "user:alice")],
        "127.0.0.2",
        ("", "user:bob"),
        True,
        None,
    ),
    "server-wide rules ignore user scopes at connect": (
        [ip_rule(1, "deny", "127.0.0.0/8", "group:staff")],
        "127.0.0.2",
        SERVER,
        True,
        None,
    ),
    "group scope and user scope combine": (
        [
            ip_rule(1, "allow", "127.0.0.0/8", "group:staff"),
            ip_rule(2, "deny", "127.0.0.66/32", "user:alice"),
        ],
        "127.0.0.66",
        ("user:alice", "group:staff"),
        False,
        2,
    ),
    "a deny-only scope does not make an allow list": (
        [ip_rule(1, "deny", "127.0.0.66/32", "user:alice")],
        "127.0.0.1",
        ("user:alice",),
        True,
        None,
    ),
}


@pytest.mark.parametrize(
    ("rules", "ip", "scopes", "allowed", "rule_id"), CASES.values(), ids=CASES.keys()
)
def test_check(
    rules: list[IpRule], ip: str, scopes: tuple[str, ...], allowed: bool, rule_id: int | None
) -> None:
    decision = IpRules(rules).check(ip, scopes)
    assert decision.allowed is allowed, decision.explain()
    assert (decision.rule.id if decision.rule else None) == rule_id


def test_no_rules_in_scope_does_not_parse() -> None:
    decision = IpRules([ip_rule(1, "deny", "127.0.0.0/8", "user:bob")]).check("garbage", [""])
    assert decision.allowed
    assert decision.explain() == "allowed: no IP rule applies"


@pytest.mark.parametrize(
    ("rules", "ip", "text"),
    [
        (
            [ip_rule(4, "deny", "127.0.0.0/8")],
            "127.0.0.1",
            "denied by ip rule 4: deny 127.0.0.0/8 (server)",
        ),
        (
            [ip_rule(5, "allow", "127.0.0.0/8", "user:alice")],
            "127.0.0.1",
            "allowed by ip rule 5: allow 127.0.0.0/8 (user:alice)",
        ),
        (
            [ip_rule(6, "allow", "127.0.0.0/24", "user:alice")],
            "127.9.0.1",
            "denied: 127.9.0.1 is in no allowed network (an allow list)",
        ),
        (
            [ip_rule(7, "deny", "127.0.0.0/8", "user:alice")],
            "bad",
            "denied: 'bad' is not an IP address",
        ),
    ],
    ids=["rule deny", "rule allow", "allow list", "bad address"],
)
def test_explain(rules: list[IpRule], ip: str, text: str) -> None:
    assert IpRules(rules).check(ip, ["", "user:alice"]).explain() == text


def test_explain_without_reason() -> None:
    assert IpDecision(False, None).explain() == "denied"


def test_has_scope() -> None:
    rules = IpRules([ip_rule(1, "deny", "127.0.0.0/8", "group:staff")])
    assert rules.has_scope("group:staff")
    assert not rules.has_scope("")
    assert not rules.has_scope("user:staff")


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("127.0.0.1", True),
        ("127.255.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::1%lo", True),
        ("::2", False),
        ("128.0.0.1", False),
        ("not an address", False),
        ("", False),
    ],
)
def test_in_networks(ip: str, expected: bool) -> None:
    loopback = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    assert in_networks(ip, loopback) is expected


def test_parse_ip_forms() -> None:
    assert parse_ip("::ffff:127.0.0.1") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip(" 127.0.0.1 ") == ipaddress.ip_address("127.0.0.1")
    assert parse_ip("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_ip("300.1.1.1") is None
