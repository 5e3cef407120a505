"""`pasv policy|group|rule|ip|ban` and `pasv user set|unset` as an operator runs them."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from tests.cli.support import PASV, Pasv

from pasv.policy.options import parse_option


@pytest.fixture
def pasv(tmp_path: Path) -> Pasv:
    return Pasv(tmp_path / "data").init()


def _source(table: str, key: str) -> tuple[str, str]:
    """(value, from) of one setting's row in `pasv policy show`."""
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells and cells[0] == key:
            return cells[1], cells[2]
    raise AssertionError(f"no row {key!r} in:\n{table}")


def test_groups_are_added_listed_set_and_deleted(pasv: Pasv) -> None:
    pasv.ok("group", "add", "staff", "--description", "the staff")
    again = pasv("group", "add", "staff")
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    pasv.ok("group", "set", "staff", "quota_bytes=5M", "max_users=2")
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("user", "set", "bob", "groups=staff")
    listed = pasv.ok("group", "list")
    row = next(line for line in listed.splitlines() if "staff" in line)
    assert "bob" in row and "max_users=2" in row and "quota_bytes=5242880" in row
    assert "the staff" in row
    assert "max_users removed" in pasv.ok("group", "unset", "staff", "max_users")
    assert "max_users was not set" in pasv.ok("group", "unset", "staff", "max_users")
    assert "max_users" not in pasv.ok("group", "list")
    pasv.ok("group", "del", "staff")
    assert "staff" not in pasv.ok("group", "list")
    assert pasv("group", "del", "staff").exit_code == 1


def test_user_set_changes_the_account_and_its_own_settings(pasv: Pasv) -> None:
    pasv.ok("group", "add", "staff")
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("user", "set", "bob", "groups=staff", "home=bobs", "perms=read", "quota_bytes=10M")
    shown = pasv.ok("user", "show", "bob")
    assert "bobs" in shown and "LIST,RETR" in shown
    assert "staff" in pasv.ok("group", "list")
    assert _source(pasv.ok("policy", "show", "--user", "bob"), "quota_bytes") == (
        "10485760",
        "user bob",
    )
    assert pasv.ok("user", "unset", "bob", "quota_bytes")
    assert _source(pasv.ok("policy", "show", "--user", "bob"), "quota_bytes") == ("0", "built-in")
    pasv.ok("user", "set", "bob", "enabled=false")
    bad = pasv("user", "set", "bob", "perms=fly")
    assert bad.exit_code == 2
    assert "unknown permission 'fly'" in bad.stderr
    assert "LIST,RETR" in pasv.ok("user", "show", "bob")
    missing = pasv("user", "set", "bob", "groups=nope")
    assert missing.exit_code == 1
    assert "nope" in missing.stderr


def test_policy_show_says_where_each_value_comes_from(pasv: Pasv) -> None:
    pasv.ok("group", "add", "staff")
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("user", "set", "bob", "groups=staff", "upload_rate=1K")
    pasv.ok("policy", "set", "idle_timeout=100", "max_sessions_per_ip=1")
    pasv.ok("group", "set", "staff", "idle_timeout=200", "ratio=1:3")
    server = pasv.ok("policy", "show")
    assert _source(server, "idle_timeout") == ("100.0", "global")
    assert _source(server, "max_sessions_per_ip") == ("1", "global")
    assert _source(server, "ratio") == ("None", "built-in")
    bob = pasv.ok("policy", "show", "--user", "bob")
    assert _source(bob, "idle_timeout") == ("200.0", "group staff")
    assert _source(bob, "ratio") == ("1:3", "group staff")
    assert _source(bob, "upload_rate") == ("1024", "user bob")
    assert _source(bob, "max_clients") == ("2000", "built-in")
    pasv.ok("policy", "unset", "idle_timeout")
    assert _source(pasv.ok("policy", "show"), "idle_timeout") == ("300.0", "built-in")
    assert pasv("policy", "show", "--user", "nobody").exit_code == 1


def test_empty_ban_allowlist_parses_to_no_networks(pasv: Pasv) -> None:
    assert "ban_allowlist = []" in pasv.ok("policy", "set", "ban_allowlist=")
    assert _source(pasv.ok("policy", "show"), "ban_allowlist") == ("", "global")
    assert parse_option("ban_allowlist", "") == ()


def test_policy_message_replaces_a_reply_text(pasv: Pasv) -> None:
    pasv.ok("policy", "message", "per_ip", "One at a time, please.")
    assert 'per_ip = "One at a time, please."' in pasv.export()
    unknown = pasv("policy", "message", "nope", "x")
    assert unknown.exit_code == 1
    assert "unknown message 'nope'" in unknown.stderr


def test_rules_are_added_listed_and_deleted(pasv: Pasv) -> None:
    assert "Added rule 1: allow LIST,RETR on /pub to *" in pasv.ok(
        "rule", "add", "allow", "--path", "/pub", "--perms", "read"
    )
    pasv.ok("rule", "add", "deny", "--path", "/pub/x", "--perms", "STOR,DELE", "--to", "@a,bob")
    listed = pasv.ok("rule", "list")
    assert re.search(r"1 .*allow .*LIST,RETR .*/pub .*\*", listed)
    assert re.search(r"2 .*deny .*STOR,DELE .*/pub/x .*@a,bob", listed)
    bad = pasv("rule", "add", "allow", "--path", "/pub", "--perms", "fly")
    assert bad.exit_code == 2
    assert "unknown permission 'fly'" in bad.stderr
    pasv.ok("rule", "del", "1")
    assert "/pub " not in pasv.ok("rule", "list").replace("/pub/x", "")
    assert pasv("rule", "del", "1").exit_code == 1


def test_ip_rules_v4_v6_per_user_and_group(pasv: Pasv) -> None:
    pasv.ok("group", "add", "staff")
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("ip", "add", "deny", "10.0.0.0/8")
    pasv.ok("ip", "add", "allow", "2001:db8::1/32", "--user", "bob")
    pasv.ok("ip", "add", "allow", "192.0.2.0/24", "--group", "staff")
    listed = pasv.ok("ip", "list")
    assert re.search(r"1 .*deny .*10\.0\.0\.0/8 .*server", listed)
    assert re.search(r"2 .*allow .*2001:db8::/32 .*user:bob", listed)
    assert re.search(r"3 .*allow .*192\.0\.2\.0/24 .*group:staff", listed)
    unknown = pasv("ip", "add", "deny", "10.0.0.0/8", "--group", "nope")
    assert unknown.exit_code == 1
    assert "no group named 'nope'" in unknown.stderr
    bad = pasv("ip", "add", "deny", "10.0.0.300/8")
    assert bad.exit_code == 2
    assert "10.0.0.300/8" in bad.stderr
    pasv.ok("ip", "del", "2")
    assert "2001:db8" not in pasv.ok("ip", "list")
    assert pasv("ip", "del", "2").exit_code == 1


def test_bans_are_added_listed_and_lifted(pasv: Pasv) -> None:
    assert "Banned 127.0.0.5 for 30 minutes." in pasv.ok(
        "ban", "add", "127.0.0.5", "--minutes", "30", "--reason", "go away"
    )
    listed = pasv.ok("ban", "list")
    assert re.search(r"127\.0\.0\.5 .*(29|30) .*1 .*go away", listed)
    pasv.ok("ban", "lift", "127.0.0.5")
    assert "127.0.0.5" not in pasv.ok("ban", "list")
    again = pasv("ban", "lift", "127.0.0.5")
    assert again.exit_code == 1
    assert "127.0.0.5 is not banned" in again.stderr


def test_policy_why_names_the_deciding_rule(pasv: Pasv) -> None:
    pasv.ok("user", "add", "carol", "--password", "pw", "--perms", "read")
    pasv.ok("group", "add", "staff")
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("user", "set", "bob", "groups=staff")
    pasv.ok("rule", "add", "deny", "--path", "/pub/secret", "--perms", "read", "--to", "@staff")
    pasv.ok(
        "rule", "add", "allow", "--path", "/pub/secret/open", "--perms", "RETR", "--to", "@staff"
    )
    pasv.ok("policy", "set", "hidden_names=.git*")

    def why(user: str, perm: str, path: str) -> tuple[int, str]:
        result = pasv("policy", "why", user, perm, path)
        return result.exit_code, result.stdout

    code, text = why("carol", "RETR", "/a/b")
    assert code == 0 and "own permissions" in text
    code, text = why("carol", "STOR", "/a/b")
    assert code == 1 and "denied" in text and "STOR" in text
    code, text = why("bob", "RETR", "/pub/secret/f")
    assert code == 1 and "denied by rule 1" in text
    code, text = why("bob", "RETR", "/pub/secret/open/f")
    assert code == 0 and "allowed by rule 2" in text
    code, text = why("bob", "LIST", "/pub/secret/open/f")  # rule 2 allows RETR only
    assert code == 1 and "denied by rule 1" in text
    code, text = why("bob", "RETR", "/pub/.git/config")
    assert code == 1 and "hidden name pattern" in text
    assert pasv("policy", "why", "nobody", "RETR", "/").exit_code == 1
    assert pasv("policy", "why", "bob", "FLY", "/").exit_code == 2


def _configure(pasv: Pasv) -> None:
    for user in ("bob", "carol"):
        pasv.ok("user", "add", user, "--password", "pw")
    pasv.ok("group", "add", "staff", "--description", "the staff")
    pasv.ok("group", "add", "guests")
    pasv.ok("group", "set", "staff", "quota_bytes=1G", "ratio=1:3")
    pasv.ok("user", "set", "bob", "groups=guests,staff", "upload_rate=64K")
    pasv.ok("user", "set", "carol", "groups=staff")
    pasv.ok("policy", "set", "max_sessions_per_ip=4", "hidden_names=.git*,*.tmp")
    pasv.ok("policy", "message", "quota", "Disk full for you.")
    pasv.ok("rule", "add", "allow", "--path", "/pub", "--perms", "read")
    pasv.ok("rule", "add", "deny", "--path", "/pub/x", "--perms", "write", "--to", "@staff,carol")
    pasv.ok("ip", "add", "deny", "10.0.0.0/8")
    pasv.ok("ip", "add", "allow", "2001:db8::/32", "--user", "bob")
    pasv.ok("ip", "add", "allow", "192.0.2.0/24", "--group", "staff")


def test_export_then_import_into_a_fresh_data_dir_gives_the_same_policy(tmp_path: Path) -> None:
    first, second = Pasv(tmp_path / "one").init(), Pasv(tmp_path / "two").init()
    _configure(first)
    exported = first.export()
    for section in ("[settings]", "[messages]", "[groups.staff]", "[users.bob]", "[[rules]]"):
        assert section in exported
    assert 'network = "2001:db8::/32"' in exported
    file = tmp_path / "policy.toml"
    first.ok("policy", "export", str(file))
    assert file.read_text() == exported
    for user in ("bob", "carol"):
        second.ok("user", "add", user, "--password", "other")
    assert "Imported 2 groups, 2 users, 2 rules, 3 IP rules." in second.ok(
        "policy", "import", str(file)
    )
    assert second.export() == exported
    assert second.ok("policy", "show", "--user", "bob") == first.ok(
        "policy", "show", "--user", "bob"
    )


def _unknown_setting(doc: dict[str, Any]) -> str:
    doc["settings"]["frobnicate"] = 1
    return "frobnicate"


def _bad_ratio(doc: dict[str, Any]) -> str:
    doc["groups"]["staff"]["ratio"] = "1-3"
    return "1-3"


def _unknown_section(doc: dict[str, Any]) -> str:
    doc["colours"] = {"red": 1}
    return "colours"


def _rule_without_perms(doc: dict[str, Any]) -> str:
    doc["rules"].append({"action": "allow", "path": "/", "to": ["*"]})
    return "perms"


def _no_such_user(doc: dict[str, Any]) -> str:
    doc["users"]["mallory"] = {"groups": ["staff"]}
    return "mallory"


@pytest.mark.parametrize(
    "spoil", [_unknown_setting, _bad_ratio, _unknown_section, _rule_without_perms, _no_such_user]
)
def test_a_bad_import_names_the_problem_and_changes_nothing(
    tmp_path: Path, spoil: Callable[[dict[str, Any]], str]
) -> None:
    pasv = Pasv(tmp_path / "data").init()
    _configure(pasv)
    before = pasv.export()
    doc = tomllib.loads(before)
    named = spoil(doc)
    file = tmp_path / "policy.toml"
    file.write_text(tomli_w.dumps(doc))
    result = pasv("policy", "import", str(file))
    assert result.exit_code == 1
    assert named in result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert pasv.export() == before


def test_an_import_file_that_is_not_toml_is_refused(pasv: Pasv, tmp_path: Path) -> None:
    _configure(pasv)
    before = pasv.export()
    file = tmp_path / "policy.toml"
    file.write_text("[settings\n")
    result = pasv("policy", "import", str(file))
    assert result.exit_code == 1
    assert str(file) in result.stderr
    assert pasv.export() == before


@pytest.mark.parametrize(
    ("pair", "key"),
    [
        ("quota_bytes=lots", "quota_bytes"),
        ("ratio=abc", "ratio"),
        ("hide_denied=maybe", "hide_denied"),
        ("max_clients=-1", "max_clients"),
        ("colour=blue", "colour"),
        ("quota_bytes", "quota_bytes"),
    ],
)
def test_a_bad_setting_names_the_key_and_changes_nothing(pasv: Pasv, pair: str, key: str) -> None:
    pasv.ok("user", "add", "bob", "--password", "pw")
    pasv.ok("policy", "set", "idle_timeout=100")
    before = pasv.export()
    for command in (["policy", "set"], ["user", "set", "bob"]):
        result = pasv(*command, "upload_rate=1K", pair)
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        assert pasv.export() == before  # not even the good pair before it
        assert key in result.stderr, result.stderr


def test_the_installed_command_end_to_end(tmp_path: Path) -> None:
    data = str(tmp_path / "data")

    def pasv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PASV, *args, "--data-dir", data], capture_output=True, text=True, timeout=60
        )

    assert pasv("user", "add", "bob", "--password", "pw", "--perms", "read").returncode == 0
    assert pasv("rule", "add", "allow", "--path", "/pub", "--perms", "STOR").returncode == 0
    allowed = pasv("policy", "why", "bob", "STOR", "/pub/f")
    assert allowed.returncode == 0
    assert "allowed by rule 1" in allowed.stdout
    denied = pasv("policy", "why", "bob", "STOR", "/f")
    assert denied.returncode == 1
    bad = pasv("rule", "add", "allow", "--path", "/", "--perms", "fly")
    assert bad.returncode == 2
    assert "unknown permission 'fly'" in bad.stderr
    assert "Traceback" not in bad.stderr
    exported = pasv("policy", "export")
    assert exported.returncode == 0
    assert 'path = "/pub"' in exported.stdout
