"""A resumed STOR (REST n, then STOR) writes into the file that is there: it needs APPE, as an
APPE does; a refused REST beyond the end names the file's size only to who may read or list it."""

from __future__ import annotations

import ftplib
import io

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject
from tests.support.live import LiveServer


def _deny(live: LiveServer, path: str, perms: str) -> None:
    live.policy.add_rule(Rule(Action("deny"), (Subject.parse("*"),), path, Perm.parse(perms)))


def test_a_resumed_stor_needs_appe_where_plain_stor_is_allowed(live: LiveServer) -> None:
    (live.files / "drop").mkdir()
    (live.files / "drop" / "theirs.txt").write_bytes(b"0123456789")
    _deny(live, "/drop", "LIST,RETR,APPE")
    live.reload_policy()
    ftp = live.login()
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary("STOR drop/theirs.txt", io.BytesIO(b"XY"), rest=5)
    assert str(caught.value).startswith("550 Permission denied: APPE"), caught.value
    assert (live.files / "drop" / "theirs.txt").read_bytes() == b"0123456789"
    assert ftp.storbinary("STOR drop/new.txt", io.BytesIO(b"n")).startswith("226")  # still


def test_rest_beyond_the_end_hides_the_size_from_who_may_not_read(live: LiveServer) -> None:
    (live.files / "drop").mkdir()
    (live.files / "drop" / "theirs.txt").write_bytes(b"0123456789")
    (live.files / "mine.txt").write_bytes(b"0123456789")
    _deny(live, "/drop", "LIST,RETR")
    live.reload_policy()
    ftp = live.login()
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary("STOR drop/theirs.txt", io.BytesIO(b"XY"), rest=99)
    assert str(caught.value) == "501 REST offset 99 is beyond the end of the file."
    with pytest.raises(ftplib.error_perm) as caught:  # where it may be read: the size, as before
        ftp.storbinary("STOR mine.txt", io.BytesIO(b"XY"), rest=99)
    assert str(caught.value) == "501 REST offset 99 is beyond the end of the file (10 bytes)."
