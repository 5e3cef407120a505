"""Authorization rules, forbidden and hidden names, anonymous upload areas, per-group timeouts."""

from __future__ import annotations

import ftplib
import io
import logging

import pytest

from tests.server.helpers import Raw, big_download_started, code_of, retr_bytes
from tests.server.policy.rules import refused, rule
from tests.support.live import USER, LiveServer


def test_deny_rule_on_a_subtree(live: LiveServer) -> None:
    (live.files / "pub").mkdir()
    (live.files / "pub" / "keep.txt").write_bytes(b"k")
    live.policy.add_rule(rule("deny", "/pub", "DELE,STOR"))
    live.reload_policy()
    ftp = live.login()
    assert refused(ftp.delete, "pub/keep.txt") == (
        "550 Permission denied: DELE is not allowed for you at /pub/keep.txt."
    )
    assert refused(ftp.storbinary, "STOR pub/new.txt", io.BytesIO(b"n")).startswith("550 ")
    assert retr_bytes(ftp, "pub/keep.txt") == b"k"  # reading is untouched
    ftp.storbinary("STOR elsewhere.txt", io.BytesIO(b"e"))  # outside /pub all is allowed
    assert (live.files / "pub" / "keep.txt").exists()


def test_more_specific_allow_wins_and_groups_apply(live: LiveServer) -> None:
    store = live.policy
    (live.files / "drop").mkdir()
    store.add_group("uploaders")
    store.set_groups(USER, ["uploaders"])
    store.add_rule(rule("deny", "/", "write"))
    store.add_rule(rule("allow", "/drop", "STOR", "@uploaders"))
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR drop/in.txt", io.BytesIO(b"i"))
    assert refused(ftp.mkd, "nope").startswith("550 Permission denied: MKD")
    assert refused(ftp.delete, "drop/in.txt").startswith("550 Permission denied: DELE")


def test_hide_denied_entries_from_listings(live: LiveServer) -> None:
    for name in ("public", "secret"):
        (live.files / name).mkdir()
    store = live.policy
    store.add_rule(rule("deny", "/secret", "LIST", USER))
    live.reload_policy()
    ftp = live.login()
    assert sorted(ftp.nlst()) == ["public", "secret"]  # denied but shown by default
    store.set_option("", "hide_denied", True)
    live.reload_policy()
    assert ftp.nlst() == ["public"]
    assert [name for name, _ in ftp.mlsd()] == ["public"]
    assert refused(ftp.nlst, "secret").startswith("550 Permission denied: LIST")


def test_forbidden_names_for_uploads_renames_and_directories(live: LiveServer) -> None:
    live.policy.set_option("", "forbidden_names", "*.exe, *.php")
    live.reload_policy()
    ftp = live.login()
    reply = refused(ftp.storbinary, "STOR tool.EXE", io.BytesIO(b"MZ"))
    assert reply == "553 Prohibited file name: tool.EXE"
    assert not (live.files / "tool.EXE").exists()
    ftp.storbinary("STOR notes.txt", io.BytesIO(b"n"))
    ftp.sendcmd("RNFR notes.txt")
    assert refused(ftp.sendcmd, "RNTO shell.php") == "553 Prohibited file name: shell.php"
    assert refused(ftp.mkd, "site.php") == "553 Prohibited file name: site.php"
    assert sorted(p.name for p in live.files.iterdir()) == ["notes.txt"]


def test_forbidden_names_per_group_override_global(live: LiveServer) -> None:
    store = live.policy
    store.set_option("", "forbidden_names", "*.exe")
    store.add_group("devs")
    store.set_groups(USER, ["devs"])
    store.set_option("group:devs", "forbidden_names", "*.tmp")
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR build.exe", io.BytesIO(b"MZ"))  # the group's list replaces the global
    assert refused(ftp.storbinary, "STOR x.tmp", io.BytesIO(b"t")).startswith("553 ")


def test_hidden_names_are_not_listed_nor_reachable(live: LiveServer) -> None:
    (live.files / ".htaccess").write_bytes(b"deny from all")
    (live.files / "private").mkdir()
    (live.files / "private" / "plan.txt").write_bytes(b"p")
    (live.files / "index.html").write_bytes(b"<html>")
    live.policy.set_option("", "hidden_names", ".ht*, private")
    live.reload_policy()
    ftp = live.login()
    assert ftp.nlst() == ["index.html"]
    for call, arg in (
        (retr_bytes, ".htaccess"),
        (ftp.size, ".htaccess"),
        (ftp.cwd, "private"),
        (retr_bytes, "private/plan.txt"),
    ):
        args = (ftp, arg) if call is retr_bytes else (arg,)
        with pytest.raises(ftplib.error_perm) as caught:
            call(*args)
        assert code_of(caught.value) == 550
        assert "No such file or directory" in str(caught.value)


def test_anonymous_upload_only_incoming(anon: LiveServer) -> None:
    root = anon.settings.anonymous_root
    (root / "incoming").mkdir(parents=True)
    (root / "readme.txt").write_bytes(b"hello")
    store = anon.policy
    store.add_rule(rule("allow", "/incoming", "STOR", "?"))
    store.add_rule(rule("deny", "/incoming", "LIST,RETR", "?"))
    anon.reload_policy()
    ftp = anon.connect()
    ftp.login("anonymous", "guest@example.org")
    assert retr_bytes(ftp, "readme.txt") == b"hello"  # read-only elsewhere
    ftp.storbinary("STOR incoming/report.pdf", io.BytesIO(b"%PDF"))
    assert (root / "incoming" / "report.pdf").read_bytes() == b"%PDF"
    assert refused(ftp.nlst, "incoming").startswith("550 Permission denied: LIST")
    assert refused(retr_bytes, ftp, "incoming/report.pdf").startswith("550 ")
    assert refused(ftp.storbinary, "STOR top.txt", io.BytesIO(b"t")).startswith("550 ")


def test_anonymous_email_is_logged(anon: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pasv.auth")
    ftp = anon.connect()
    ftp.login("anonymous", "visitor@example.org")
    assert any("visitor@example.org" in r.getMessage() for r in caplog.records)


def test_group_idle_timeout(live: LiveServer) -> None:
    store = live.policy
    store.add_group("kiosk")
    store.set_groups(USER, ["kiosk"])
    store.set_option("group:kiosk", "idle_timeout", 0.3)
    live.reload_policy()
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.reply()  # nothing sent: the server closes after 0.3 s
        assert (reply.code, reply.text) == (
            421,
            "Idle timeout (0.3 seconds): closing control connection.",
        )


def test_stalled_transfer_is_aborted(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "stall_timeout", 0.5)
    live.reload_policy()
    ftp, conn = big_download_started(live)  # the client stops reading: nothing moves
    try:
        reply = ftp.getline()
        assert reply.startswith("426 Transfer aborted (stalled: no data moved for 0.5 seconds)")
    finally:
        conn.close()
