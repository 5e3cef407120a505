"""RNTO onto a name that appears after the check (another session's upload): replaced only where
the user may DELE there, as if it had been there when looked at; never silently."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pasv.storage.local import LocalStorage
from tests.server.policy.rules import refused, rule
from tests.support.live import LiveServer

NEEDS_DELE = "/d/b.txt exists, and replacing it needs DELE, which is not allowed for you there."


@pytest.fixture
def appears(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """/d/b.txt is made between RNTO's check and the move (on the store's worker thread,
    right before its rename system call), as another session's upload could be."""
    made = live.files / "d" / "b.txt"
    renaming = LocalStorage._renaming

    def racing(self: LocalStorage, src: str, dst: str) -> tuple[str, str]:
        found = renaming(self, src, dst)
        if dst == "/d/b.txt" and not made.exists():
            made.write_bytes(b"another session's file")
        return found

    monkeypatch.setattr(LocalStorage, "_renaming", racing)
    (live.files / "d").mkdir()
    (live.files / "d" / "a.txt").write_bytes(b"mine")
    return made


def test_a_target_made_during_the_rename_is_not_replaced_without_dele(
    live: LiveServer, appears: Path
) -> None:
    live.policy.add_rule(rule("deny", "/d", "DELE"))
    live.reload_policy()
    ftp = live.login()
    ftp.sendcmd("RNFR /d/a.txt")
    reply = refused(ftp.sendcmd, "RNTO /d/b.txt")
    assert reply.startswith("550 ") and NEEDS_DELE in reply
    assert appears.read_bytes() == b"another session's file"
    assert (live.files / "d" / "a.txt").read_bytes() == b"mine"


def test_a_target_made_during_the_rename_is_replaced_where_the_user_may_dele(
    live: LiveServer, appears: Path
) -> None:
    ftp = live.login()
    ftp.sendcmd("RNFR /d/a.txt")
    assert ftp.sendcmd("RNTO /d/b.txt").startswith("250 ")
    assert appears.read_bytes() == b"mine"
    assert not (live.files / "d" / "a.txt").exists()


def test_a_target_another_session_made_after_rnfr_needs_dele(live: LiveServer) -> None:
    (live.files / "d").mkdir()
    (live.files / "d" / "a.txt").write_bytes(b"mine")
    live.policy.add_rule(rule("deny", "/d", "DELE"))
    live.reload_policy()
    ftp, other = live.login(), live.login()
    ftp.sendcmd("RNFR /d/a.txt")
    other.storbinary("STOR /d/b.txt", io.BytesIO(b"theirs"))
    reply = refused(ftp.sendcmd, "RNTO /d/b.txt")
    assert reply.startswith("550 ") and NEEDS_DELE in reply
    assert (live.files / "d" / "b.txt").read_bytes() == b"theirs"
    assert (live.files / "d" / "a.txt").read_bytes() == b"mine"
