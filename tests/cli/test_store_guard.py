"""Management commands refuse a data directory that holds no pasv store (and create nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.support import Pasv

COMMANDS = [
    ("policy", "unset", "max_sessions_per_ip"),
    ("policy", "set", "max_sessions_per_ip=2"),
    ("policy", "show"),
    ("policy", "why", "bob", "RETR", "/"),
    ("policy", "export"),
    ("group", "list"),
    ("group", "add", "staff"),
    ("rule", "list"),
    ("rule", "add", "deny", "--path", "/x", "--perms", "read"),
    ("ip", "add", "deny", "192.0.2.0/24"),
    ("ban", "list"),
    ("ban", "add", "192.0.2.1"),
    ("user", "list"),
    ("user", "del", "bob"),
    ("user", "passwd", "bob", "--password", "x"),
    ("user", "set", "bob", "home=x"),
    ("user", "usage", "bob"),
    ("admin", "token", "create", "ops"),
    ("admin", "token", "list"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_folder_without_a_store_is_refused_and_left_alone(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    wrong = tmp_path / "wrong-folder"
    result = Pasv(wrong)(*args)
    assert result.exit_code == 1, result.output
    assert f"no pasv store at {wrong / 'accounts.sqlite3'}" in result.stderr.replace("\n", "")
    assert not wrong.exists()


def test_an_empty_or_foreign_file_is_not_a_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "accounts.sqlite3").write_bytes(b"")
    result = Pasv(data)("rule", "list")
    assert result.exit_code == 1 and "no pasv store" in result.stderr
    assert (data / "accounts.sqlite3").read_bytes() == b""  # not turned into a database


def test_the_first_user_add_creates_the_store(tmp_path: Path) -> None:
    pasv = Pasv(tmp_path / "new")
    pasv.ok("user", "add", "bob", "--password", "pw")
    assert "bob" in pasv.ok("user", "list")
    assert "was not set" in pasv.ok("policy", "unset", "max_sessions_per_ip")
