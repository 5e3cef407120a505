"""The setup warnings, exactly in their cases: plain-text logins off loopback, anonymous write,
root, the self-signed certificate; and SITE WARNINGS says the same over the wire."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pasv.config import load_settings
from pasv.policy.engine import Policy, PolicyData
from pasv.policy.models import Action, Perm, Rule, Subject, SubjectKind
from pasv.server import tlssession
from pasv.server.app import base_policy
from pasv.server.setup_warnings import setup_warnings
from tests.server.helpers import Raw
from tests.support.live import start_server

ANON_STOR = Rule(Action.ALLOW, (Subject(SubjectKind.ANONYMOUS),), "/incoming", Perm.STOR, id=7)
ALL_WRITE = Rule(Action.ALLOW, (Subject(SubjectKind.ALL),), "/", Perm.WRITE, id=8)
BOB_WRITE = Rule(Action.ALLOW, (Subject(SubjectKind.USER, "bob"),), "/", Perm.WRITE, id=9)
DENY_ANON = Rule(Action.DENY, (Subject(SubjectKind.ANONYMOUS),), "/", Perm.WRITE, id=10)


def _keys(
    config: dict[str, Any],
    rules: tuple[Rule, ...] = (),
    stored: dict[str, Any] | None = None,
    *,
    as_root: bool = False,
    self_signed: bool = False,
) -> list[str]:
    settings = load_settings(None, config, environ={})
    policy = Policy(PolicyData(settings=stored or {}, rules=rules), base_policy(settings))
    found = setup_warnings(settings, policy, as_root=as_root, self_signed=self_signed)
    return [w.key for w in found]


LOOPBACK = {"server": {"host": "127.0.0.1"}}


@pytest.mark.parametrize(
    ("config", "rules", "stored", "expected"),
    [
        (LOOPBACK, (), None, []),
        ({"server": {"host": "::1"}}, (), None, []),
        ({"server": {"host": "localhost"}}, (), None, []),
        ({}, (), None, ["plain-login"]),  # every interface
        ({"server": {"host": "192.0.2.10"}}, (), None, ["plain-login"]),
        ({"tls": {"require_login_tls": True}}, (), None, []),
        ({}, (), {"require_tls_login": True}, []),  # set with `pasv policy set`
        ({"server": {"host": "192.0.2.10"}, "tls": {"enabled": False}}, (), None, ["plain-login"]),
        ({**LOOPBACK, "anonymous": {"enabled": True}}, (), None, []),  # read-only anonymous
        ({**LOOPBACK, "anonymous": {"enabled": True}}, (ANON_STOR,), None, ["anonymous-write"]),
        ({**LOOPBACK, "anonymous": {"enabled": True}}, (ALL_WRITE,), None, ["anonymous-write"]),
        ({**LOOPBACK, "anonymous": {"enabled": True}}, (BOB_WRITE, DENY_ANON), None, []),
        (LOOPBACK, (ANON_STOR,), None, []),  # the rule is there, anonymous login is not
        ({**LOOPBACK, "metrics": {"listen": "192.0.2.10:9121"}}, (), None, ["metrics-exposed"]),
        ({**LOOPBACK, "metrics": {"listen": "0.0.0.0:9121"}}, (), None, ["metrics-exposed"]),
        ({**LOOPBACK, "metrics": {"listen": "[::1]:9121"}}, (), None, []),
        ({**LOOPBACK, "metrics": {"enabled": False, "listen": "0.0.0.0:9121"}}, (), None, []),
        (
            {**LOOPBACK, "hooks": [{"url": "http://u:pw@hooks.example.org/in"}]},
            (),
            None,
            ["hook-plain-password"],
        ),
        (
            {**LOOPBACK, "hooks": [{"url": "http://u:pw@192.0.2.7:80/in"}]},
            (),
            None,
            ["hook-plain-password"],
        ),
        ({**LOOPBACK, "hooks": [{"url": "https://u:pw@hooks.example.org/in"}]}, (), None, []),
        ({**LOOPBACK, "hooks": [{"url": "http://hooks.example.org/in"}]}, (), None, []),
        ({**LOOPBACK, "hooks": [{"url": "http://u:pw@127.0.0.1:8080/in"}]}, (), None, []),
        ({**LOOPBACK, "hooks": [{"url": "http://u:pw@localhost/in"}]}, (), None, []),
    ],
)
def test_plain_login_and_anonymous_write(
    config: dict[str, Any],
    rules: tuple[Rule, ...],
    stored: dict[str, Any] | None,
    expected: list[str],
) -> None:
    assert _keys(config, rules, stored) == expected


def test_root_and_self_signed() -> None:
    assert _keys(LOOPBACK, as_root=True) == ["root"]
    assert _keys(LOOPBACK, self_signed=True) == ["self-signed"]
    assert _keys({**LOOPBACK, "tls": {"enabled": False}}, self_signed=True) == []
    everything = _keys(
        {"anonymous": {"enabled": True}}, (ANON_STOR,), as_root=True, self_signed=True
    )
    assert everything == ["plain-login", "anonymous-write", "root", "self-signed"]


def test_a_session_lifetime_that_cannot_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where this Python cannot set tls.session_lifetime (see tlssession), and sessions must be
    resumed, the operator is told that they last 7,200 s."""
    assert _keys(LOOPBACK) == []  # this Python can set it
    monkeypatch.setattr(tlssession, "_SETTER", None)
    assert _keys(LOOPBACK) == ["tls-session-lifetime"]
    assert _keys({**LOOPBACK, "tls": {"require_session_reuse": False}}) == []
    assert _keys({**LOOPBACK, "tls": {"enabled": False}}) == []


def test_the_text_names_the_rule() -> None:
    settings = load_settings(None, {**LOOPBACK, "anonymous": {"enabled": True}}, environ={})
    policy = Policy(PolicyData(rules=(ANON_STOR,)), base_policy(settings))
    (found,) = setup_warnings(settings, policy, as_root=False, self_signed=False)
    assert "rule 7 allows STOR on /incoming" in found.text


def test_site_warnings_lists_what_the_running_server_warns_about(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", anonymous={"enabled": True})  # self-signed TLS
    try:
        server.policy.add_rule(ANON_STOR)
        server.policy.add_group("admin")
        server.policy.set_groups("alice", ["admin"])  # the console group: administrators
        server.reload_policy()
        with Raw.to(server) as conn:
            conn.login()
            reply = conn.cmd("SITE WARNINGS")
        expected = setup_warnings(
            server.settings, server.server.gate.policy, as_root=os.geteuid() == 0, self_signed=True
        )
        assert [w.key for w in expected][:1] == ["anonymous-write"]
        assert reply.code == 200
        assert list(reply.lines) == [
            f"WARNINGS {len(expected)}:",
            *(f" {w.key}: {w.text}" for w in expected),
            "End",
        ]
    finally:
        server.stop()


def test_site_warnings_is_for_administrators_only(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data", anonymous={"enabled": True}, admin={"console_group": "ops"}
    )
    try:
        server.policy.add_rule(ANON_STOR)  # something to warn about
        server.add_user("bob", "bob-pw")
        server.policy.add_group("staff")
        server.policy.add_group("ops")
        server.policy.set_groups("bob", ["staff"])
        server.reload_policy()
        refusal = (
            "550 Permission denied: SITE WARNINGS tells the server's setup to its administrators"
            " only, the members of the group ops (admin.console_group)."
        )
        for user, password in (("anonymous", "guest@example.org"), ("bob", "bob-pw")):
            with Raw.to(server) as conn:
                conn.login(user, password)
                reply = conn.cmd("SITE WARNINGS")
                assert f"{reply.code} {reply.text}" == refusal
                assert conn.cmd("SITE HELP").code == 214  # the other SITE commands still answer
        server.policy.set_groups("bob", ["staff", "ops"])
        server.reload_policy()
        with Raw.to(server) as conn:
            conn.login("bob", "bob-pw")
            reply = conn.cmd("SITE WARNINGS")
        assert reply.code == 200
        assert " anonymous-write: " in "\n".join(reply.lines)
    finally:
        server.stop()
