"""Forbidden and hidden name patterns."""

from __future__ import annotations

import pytest

from pasv.policy.names import NamePatterns

FORBIDDEN = ("*.exe", "*.php", ".htaccess", "con", "*:*", "/incoming/*.sh")
PATTERNS = NamePatterns(forbidden=FORBIDDEN, hidden=(".*", "Thumbs.db", "/pub/private"))


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("setup.exe", "*.exe"),
        ("SETUP.EXE", "*.exe"),
        ("shell.PhP", "*.php"),
        (".htaccess", ".htaccess"),
        ("CON", "con"),
        ("file.txt:stream", "*:*"),
        ("/pub/dir/virus.exe", "*.exe"),
        ("/pub/dir/virus.exe/", "*.exe"),
        ("/incoming/run.sh", "/incoming/*.sh"),
        ("/INCOMING/run.SH", "/incoming/*.sh"),
        ("readme.txt", None),
        ("console", None),
        ("setup.exe.txt", None),
        ("run.sh", None),
        ("/pub/run.sh", None),
        ("报告.doc", None),
    ],
)
def test_forbidden(name: str, pattern: str | None) -> None:
    assert PATTERNS.forbidden(name) == pattern


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (".hidden", True),
        ("Thumbs.db", True),
        ("THUMBS.DB", True),
        ("visible", False),
        ("a.b", False),
    ],
)
def test_hidden(name: str, expected: bool) -> None:
    assert PATTERNS.hidden(name) is expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/pub/a.txt", False),
        ("/", False),
        ("/pub/.git/config", True),
        ("/.ssh", True),
        ("/pub/dir/Thumbs.db", True),
        ("/pub/private", True),
        ("/pub/Private/file", True),
        ("/pub/private2/file", False),
        ("/other/private", False),
    ],
)
def test_hidden_path(path: str, expected: bool) -> None:
    assert PATTERNS.hidden_path(path) is expected


def test_empty() -> None:
    none = NamePatterns((), ())
    assert none.empty
    assert none.forbidden("x.exe") is None
    assert not none.hidden_path("/.git")
    assert not NamePatterns(("*.exe",), ()).empty
    assert not NamePatterns((), (".*",)).empty
    assert NamePatterns(("  ",), ("",)).empty
