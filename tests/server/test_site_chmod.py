"""SITE CHMOD sets permission bits only, never setuid, setgid or sticky, within chmod_mask; it
never changes the user's own root, and the reply says what was applied when it differs."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import Raw
from tests.support.live import LiveServer, start_server

CASES = [
    ("4755", 0o755, "SITE CHMOD 4755 f.bin: applied 0755 (the setuid bit is never set)."),
    ("2755", 0o755, "SITE CHMOD 2755 f.bin: applied 0755 (the setgid bit is never set)."),
    (
        "1777",
        0o755,
        "SITE CHMOD 1777 f.bin: applied 0755 (the sticky bit is never set; "
        "the mask 0755 removed 0022).",
    ),
    (
        "7777",
        0o755,
        "SITE CHMOD 7777 f.bin: applied 0755 (the setuid, setgid and sticky bits are never set; "
        "the mask 0755 removed 0022).",
    ),
    ("0777", 0o755, "SITE CHMOD 0777 f.bin: applied 0755 (the mask 0755 removed 0022)."),
    ("0644", 0o644, "SITE CHMOD 644 f.bin done."),
]


@pytest.fixture
def raw(live: LiveServer) -> Iterator[Raw]:
    with Raw.to(live) as conn:
        conn.login()
        yield conn


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("requested", "applied", "text"), CASES, ids=[c[0] for c in CASES])
def test_the_mode_on_disk_and_the_reply(
    live: LiveServer, raw: Raw, requested: str, applied: int, text: str
) -> None:
    path = live.files / "f.bin"
    path.write_bytes(b"f")
    os.chmod(path, 0o600)
    reply = raw.cmd(f"SITE CHMOD {requested} f.bin")
    assert (reply.code, reply.text) == (200, text)
    assert _mode(path) == applied


def test_a_directory_never_gets_the_sticky_or_setgid_bit(live: LiveServer, raw: Raw) -> None:
    (live.files / "d").mkdir()
    reply = raw.cmd("SITE CHMOD 3777 d")
    assert reply.code == 200 and "applied 0755" in reply.text
    assert _mode(live.files / "d") == 0o755


def test_the_users_own_root_is_refused_and_unchanged(live: LiveServer, raw: Raw) -> None:
    os.chmod(live.files, 0o755)
    for name in (".", "/", "sub/.."):
        reply = raw.cmd(f"SITE CHMOD 777 {name}")
        assert (reply.code, reply.text) == (550, "SITE CHMOD cannot change your root directory.")
    assert _mode(live.files) == 0o755
    (live.files / "sub").mkdir(mode=0o700)
    assert raw.cmd("CWD sub").code == 250
    assert raw.cmd("SITE CHMOD 755 .").code == 200  # "." is not the root here
    assert _mode(live.files / "sub") == 0o755


def test_the_operator_may_allow_more_bits_but_never_special_ones(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", server={"chmod_mask": "0777"})
    try:
        path = server.files / "f.bin"
        path.write_bytes(b"f")
        with Raw.to(server) as conn:
            conn.login()
            assert conn.cmd("SITE CHMOD 0777 f.bin").text == "SITE CHMOD 777 f.bin done."
            assert _mode(path) == 0o777
            reply = conn.cmd("SITE CHMOD 4777 f.bin")
            assert reply.text == (
                "SITE CHMOD 4777 f.bin: applied 0777 (the setuid bit is never set)."
            )
            assert _mode(path) == 0o777
    finally:
        server.stop()
