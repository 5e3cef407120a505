"""Quota accounting on a live server: what an upload stopped at the quota leaves of the file
that was there, and that the storage used is counted right afterwards."""

from __future__ import annotations

import ftplib
import io
import os
from pathlib import Path

import pytest

from tests.server.helpers import send_until_stopped, upload_taken, wait_for
from tests.server.policy.rules import refused, rule
from tests.support.live import USER, LiveServer, start_server

KIB = 1024


def _quota(live: LiveServer, limit: int) -> None:
    live.policy.set_option(f"user:{USER}", "quota_bytes", limit)
    live.reload_policy()


def _stopped(ftp: ftplib.FTP, command: str, data: bytes, rest: int | None = None) -> str:
    """Send ``data`` until the server stops the upload; its final reply."""
    ftp.voidcmd("TYPE I")
    return send_until_stopped(ftp, ftp.transfercmd(command, rest), data)


def _used(live: LiveServer) -> tuple[int, int]:
    usage = live.policy.usage(USER)
    assert usage is not None
    return usage.bytes_used, usage.files_used


def test_an_appe_stopped_by_the_quota_leaves_the_old_file_whole(live: LiveServer) -> None:
    (live.files / "stage").mkdir()
    old = os.urandom(30 * KIB)
    (live.files / "stage" / "log.txt").write_bytes(old)
    live.policy.add_rule(rule("deny", "/stage", "DELE"))
    _quota(live, 100 * KIB)
    ftp = live.login()
    assert refused(ftp.delete, "/stage/log.txt").startswith("550 ")
    reply = _stopped(ftp, "APPE /stage/log.txt", os.urandom(200 * KIB))
    assert reply.startswith("552 Exceeded storage allocation. Transfer stopped after")
    assert (live.files / "stage" / "log.txt").read_bytes() == old  # not removed, not grown
    assert _used(live) == (30 * KIB, 1)
    assert ftp.sendcmd("AVBL") == f"213 {70 * KIB}"


def test_a_resumed_stor_stopped_by_the_quota_keeps_the_bytes_before_the_offset(
    live: LiveServer,
) -> None:
    old = os.urandom(40 * KIB)
    (live.files / "part.bin").write_bytes(old)
    _quota(live, 100 * KIB)
    ftp = live.login()
    reply = _stopped(ftp, "STOR part.bin", os.urandom(300 * KIB), rest=10 * KIB)
    assert reply.startswith("552 ")
    # REST n + STOR ends the file after the new bytes: what stays is its first n bytes
    assert (live.files / "part.bin").read_bytes() == old[: 10 * KIB]
    assert _used(live) == (10 * KIB, 1)


def test_an_appe_that_made_the_file_is_removed_when_stopped(live: LiveServer) -> None:
    _quota(live, 100 * KIB)
    ftp = live.login()
    assert _stopped(ftp, "APPE new.bin", os.urandom(200 * KIB)).startswith("552 ")
    assert not (live.files / "new.bin").exists()
    assert _used(live) == (0, 0)


@pytest.mark.parametrize("mode", ["atomic", "atomic-resume"])
def test_an_atomic_appe_stopped_by_the_quota_leaves_the_old_file(tmp_path: Path, mode: str) -> None:
    live = start_server(tmp_path / "data", uploads={"mode": mode})
    try:
        old = os.urandom(30 * KIB)
        (live.files / "log.txt").write_bytes(old)
        _quota(live, 100 * KIB)
        ftp = live.login()
        assert _stopped(ftp, "APPE log.txt", os.urandom(200 * KIB)).startswith("552 ")
        assert (live.files / "log.txt").read_bytes() == old
        assert _used(live) == (30 * KIB, 1)
    finally:
        live.stop()


def test_concurrent_sessions_share_the_room(live: LiveServer) -> None:
    """Three sessions start their uploads together (each room is the whole 100 KiB when its
    STOR comes), then send 90 KiB one after another: the second is stopped at the 10 KiB left
    (and removed, which frees them again for the third), and what is stored stays within the
    quota."""
    _quota(live, 100 * KIB)
    sessions = [live.login() for _ in range(3)]
    conns = []
    for index, ftp in enumerate(sessions):
        ftp.voidcmd("TYPE I")
        conns.append(ftp.transfercmd(f"STOR c{index}.bin"))
    replies = [
        send_until_stopped(ftp, conn, os.urandom(90 * KIB))
        for ftp, conn in zip(sessions, conns, strict=True)
    ]
    assert replies[0].startswith("226 ")
    assert replies[1] == "552 Exceeded storage allocation. Transfer stopped after 10240 bytes."
    assert replies[2] == replies[1]
    stored = sum(p.stat().st_size for p in live.files.glob("c*.bin"))
    assert stored == 90 * KIB  # the stopped ones were removed
    assert _used(live) == (90 * KIB, 1)


def test_an_upload_is_refused_before_it_starts_while_others_fill_the_room(
    live: LiveServer,
) -> None:
    _quota(live, 100 * KIB)
    first = live.login()
    first.voidcmd("TYPE I")
    conn = first.transfercmd("STOR a.bin")
    try:
        conn.sendall(b"a" * 100 * KIB)  # all of the room, still in flight
        wait_for(upload_taken(live, 100 * KIB))
        second = live.login()
        assert refused(second.storbinary, "STOR b.bin", io.BytesIO(b"b")) == (
            "552 Exceeded storage allocation."
        )
    finally:
        conn.close()
    assert first.voidresp().startswith("226 ")
    assert not (live.files / "b.bin").exists()
    assert _used(live) == (100 * KIB, 1)


def _usage_of(live: LiveServer, name: str) -> tuple[int, int] | None:
    usage = live.policy.usage(name)
    return None if usage is None else (usage.bytes_used, usage.files_used)


def test_deleting_another_users_file_gives_the_bytes_back_to_that_user(
    live: LiveServer,
) -> None:
    """A shared home: alice deleting carol's upload does not refill alice's quota."""
    live.add_user("carol", "carol-pw")
    _quota(live, 100 * KIB)
    alice = live.login()
    assert alice.sendcmd("AVBL") == f"213 {100 * KIB}"  # alice's usage is measured now
    carol = live.login("carol", "carol-pw")  # no quota of her own
    carol.storbinary("STOR carol_big.bin", io.BytesIO(b"c" * 200 * KIB))
    alice.storbinary("STOR alice1.bin", io.BytesIO(b"a" * 99 * KIB))
    alice.delete("carol_big.bin")
    assert _used(live) == (99 * KIB, 1)  # not 0: the bytes were never alice's
    assert refused(alice.storbinary, "STOR alice2.bin", io.BytesIO(b"a" * 50 * KIB)).startswith(
        "552 "
    )
    alice.delete("alice1.bin")  # her own: back to her
    assert _used(live) == (0, 0)


def test_the_owners_usage_follows_deletions_and_replacements(live: LiveServer) -> None:
    live.add_user("carol", "carol-pw")
    live.policy.set_option("user:carol", "quota_bytes", 100 * KIB)
    _quota(live, 100 * KIB)
    carol = live.login("carol", "carol-pw")
    carol.storbinary("STOR one.bin", io.BytesIO(b"1" * 30 * KIB))
    carol.storbinary("STOR two.bin", io.BytesIO(b"2" * 20 * KIB))
    assert _usage_of(live, "carol") == (50 * KIB, 2)
    alice = live.login()
    assert alice.sendcmd("AVBL") == f"213 {100 * KIB}"  # measured: carol's files are carol's
    alice.delete("one.bin")
    assert _usage_of(live, "carol") == (20 * KIB, 1)  # carol's bytes went back to carol
    assert _used(live) == (0, 0)
    alice.storbinary("STOR two.bin", io.BytesIO(b"a" * 5 * KIB))  # replaced: alice's now
    assert _usage_of(live, "carol") == (0, 0)
    assert _used(live) == (5 * KIB, 1)
    carol.delete("two.bin")
    assert _used(live) == (0, 0)
    assert _usage_of(live, "carol") == (0, 0)


def test_concurrent_new_files_share_the_file_quota(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_files", 2)
    live.reload_policy()
    sessions = [live.login() for _ in range(3)]
    conns = [sessions[i].transfercmd(f"STOR n{i}.bin") for i in range(2)]  # both under way
    assert refused(sessions[2].storbinary, "STOR n2.bin", io.BytesIO(b"3")) == (
        "552 Exceeded storage allocation: at most 2 files."
    )
    for ftp, conn in zip(sessions, conns, strict=False):
        conn.sendall(b"n")
        conn.close()
        assert ftp.voidresp().startswith("226 ")
    assert _used(live) == (2, 2)
    sessions[2].storbinary("STOR n0.bin", io.BytesIO(b"again"))  # replacing is no new file


def test_owners_in_atomic_mode(tmp_path: Path) -> None:
    """An atomic upload's new file is its uploader's; one stopped at the quota leaves the old
    file, and its usage, to the user it was."""
    live = start_server(tmp_path / "data", uploads={"mode": "atomic"})
    try:
        live.add_user("carol", "carol-pw")
        live.policy.set_option("user:carol", "quota_bytes", 100 * KIB)
        _quota(live, 100 * KIB)
        carol = live.login("carol", "carol-pw")
        carol.storbinary("STOR c.bin", io.BytesIO(b"c" * 30 * KIB))
        alice = live.login()
        assert _stopped(alice, "APPE c.bin", os.urandom(200 * KIB)).startswith("552 ")
        assert (live.files / "c.bin").read_bytes() == b"c" * 30 * KIB
        assert _usage_of(live, "carol") == (30 * KIB, 1)
        assert _used(live) == (0, 0)
        alice.delete("c.bin")
        assert _usage_of(live, "carol") == (0, 0)
        assert _used(live) == (0, 0)
    finally:
        live.stop()


def test_a_file_replaced_by_a_rename_leaves_its_owners_usage(live: LiveServer) -> None:
    """RNTO onto an existing file removes it as a DELE does: its bytes and its file leave
    the usage of who uploaded it, here the renaming user and then another user."""
    live.add_user("carol", "carol-pw")
    live.policy.set_option("user:carol", "quota_bytes", 100 * KIB)
    _quota(live, 100 * KIB)
    alice = live.login()
    alice.storbinary("STOR small.bin", io.BytesIO(b"s" * 10 * KIB))
    alice.storbinary("STOR big.bin", io.BytesIO(b"b" * 20 * KIB))
    assert _used(live) == (30 * KIB, 2)
    alice.rename("small.bin", "big.bin")
    assert _used(live) == (10 * KIB, 1)  # big.bin's 20 KiB are gone from the disk
    carol = live.login("carol", "carol-pw")
    carol.storbinary("STOR carols.bin", io.BytesIO(b"c" * 40 * KIB))
    assert _usage_of(live, "carol") == (40 * KIB, 1)
    alice.rename("big.bin", "carols.bin")
    assert _usage_of(live, "carol") == (0, 0)  # carol's file is gone
    assert _used(live) == (10 * KIB, 1)  # the renamed file stays alice's
