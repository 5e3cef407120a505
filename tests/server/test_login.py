"""USER, PASS, ACCT, REIN, HOST, QUIT, anonymous access and the login sequence rules."""

from __future__ import annotations

import ftplib
import io
import time
from pathlib import Path

import pytest

from tests.server.helpers import Raw, code_of, retr_bytes
from tests.support.live import PASSWORD, USER, LiveServer, start_server


def test_login_and_pwd(live_any: LiveServer) -> None:
    ftp = live_any.connect()
    assert ftp.getwelcome().startswith("220 ")
    reply = ftp.login(USER, PASSWORD)
    assert reply.startswith("230 ")
    assert ftp.pwd() == "/"


def test_user_asks_for_password(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.greeting.code == 220
        reply = raw.cmd(f"USER {USER}")
        assert reply.code == 331
        assert USER in reply.text


@pytest.mark.parametrize("user", [USER, "nobody"])
def test_wrong_password_or_unknown_user_is_530(live: LiveServer, user: str) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd(f"USER {user}").code == 331
        reply = raw.cmd("PASS wrong")
        assert reply.code == 530
        # the same answer for both: no hint which user names exist
        assert reply.text == "Login incorrect: unknown user name or wrong password."
        assert raw.cmd("PWD").code == 530


def test_pass_without_user_is_503(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd(f"PASS {PASSWORD}").code == 503
        raw.login()
        assert raw.cmd(f"PASS {PASSWORD}").code == 503


def test_pass_after_failed_pass_needs_user_again(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd(f"USER {USER}").code == 331
        assert raw.cmd("PASS wrong").code == 530
        assert raw.cmd(f"PASS {PASSWORD}").code == 503
        raw.login()


@pytest.mark.parametrize(
    "line",
    [
        "PWD",
        "XPWD",
        "CWD /",
        "XCWD /",
        "CDUP",
        "XCUP",
        "MKD d",
        "XMKD d",
        "RMD d",
        "XRMD d",
        "DELE f",
        "RNFR f",
        "RNTO g",
        "SIZE f",
        "MDTM f",
        "MFMT 20200101000000 f",
        "HASH f",
        "PASV",
        "EPSV",
        "PORT 127,0,0,1,200,10",
        "EPRT |1|127.0.0.1|51210|",
        "REST 0",
        "RETR f",
        "STOR f",
        "APPE f",
        "STOU",
        "LIST",
        "NLST",
        "MLSD",
        "MLST",
        "ALLO 10",
        "SITE HELP",
        "SMNT /",
    ],
)
def test_commands_before_login_are_530(live: LiveServer, line: str) -> None:
    with Raw.to(live) as raw:
        reply = raw.cmd(line)
        assert reply.code == 530, (line, reply)
        assert raw.cmd("NOOP").code == 200


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("FEAT", 211),
        ("HELP", 214),
        ("SYST", 215),
        ("NOOP", 200),
        ("STAT", 211),
        ("TYPE I", 200),
        ("MODE S", 200),
        ("STRU F", 200),
        ("OPTS UTF8 ON", 200),
        ("ACCT x", 202),
    ],
)
def test_commands_allowed_before_login(live: LiveServer, line: str, code: int) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd(line).code == code


def test_anonymous_is_off_by_default(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        for name in ("anonymous", "ftp", "ANONYMOUS"):
            reply = raw.cmd(f"USER {name}")
            assert (reply.code, reply.text) == (530, "Sorry, no ANONYMOUS access allowed.")
        assert raw.cmd("PASS guest@example.com").code == 503
        assert raw.cmd("PWD").code == 530


def test_anonymous_read_only_in_own_root(anon: LiveServer) -> None:
    root = anon.settings.anonymous_root
    (root / "pub.txt").write_bytes(b"public\n")
    (root / "dir").mkdir()
    (anon.files / "alice-only.txt").write_bytes(b"private")
    ftp = anon.connect()
    assert ftp.login().startswith("230 ")  # anonymous / anonymous@
    assert sorted(ftp.nlst()) == ["dir", "pub.txt"]
    assert retr_bytes(ftp, "pub.txt") == b"public\n"
    with pytest.raises(ftplib.error_perm) as exc:
        retr_bytes(ftp, "alice-only.txt")
    assert code_of(exc.value) == 550
    refusals = [
        lambda: ftp.storbinary("STOR new.txt", io.BytesIO(b"x")),
        lambda: ftp.storbinary("APPE pub.txt", io.BytesIO(b"x")),
        lambda: ftp.delete("pub.txt"),
        lambda: ftp.mkd("newdir"),
        lambda: ftp.rmd("dir"),
        lambda: ftp.rename("pub.txt", "moved.txt"),
        lambda: ftp.sendcmd("SITE CHMOD 777 pub.txt"),
        lambda: ftp.sendcmd("MFMT 20000101000000 pub.txt"),
    ]
    for refuse in refusals:
        with pytest.raises(ftplib.error_perm) as exc:
            refuse()
        assert code_of(exc.value) == 550
    assert sorted(p.name for p in root.iterdir()) == ["dir", "pub.txt"]
    assert (root / "pub.txt").read_bytes() == b"public\n"
    assert ftp.sendcmd("NOOP").startswith("200")


def test_anonymous_user_ftp_and_stat(anon: LiveServer) -> None:
    with Raw.to(anon) as raw:
        reply = raw.cmd("USER ftp")
        assert reply.code == 331
        assert raw.cmd("PASS me@example.com").code == 230
        status = raw.cmd("STAT")
        assert status.code == 211
        assert "Logged in as anonymous" in status.text


def test_three_failed_passwords_close_the_connection(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        for _ in range(2):
            assert raw.cmd(f"USER {USER}").code == 331
            assert raw.cmd("PASS nope").code == 530
        assert raw.cmd(f"USER {USER}").code == 331
        reply = raw.cmd("PASS nope")
        assert reply.code == 421
        assert "failed login" in reply.text
        assert raw.wait_closed() == b""


def test_two_failures_then_success(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        for _ in range(2):
            assert raw.cmd(f"USER {USER}").code == 331
            assert raw.cmd("PASS nope").code == 530
        raw.login()
        assert raw.cmd("PWD").code == 257


def test_failed_pass_is_delayed(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", login={"failure_delay": 0.3})
    try:
        with Raw.to(live) as raw:
            assert raw.cmd(f"USER {USER}").code == 331
            started = time.monotonic()
            assert raw.cmd("PASS nope").code == 530
            assert time.monotonic() - started >= 0.3
            raw.login()  # a correct password is not delayed by the earlier failure
    finally:
        live.stop()


def test_rein_logs_out_and_keeps_connection(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("TYPE A").code == 200
        assert raw.cmd("CWD /").code == 250
        assert raw.cmd("REIN").code == 220
        assert raw.cmd("PWD").code == 530
        raw.login()
        status = raw.cmd("STAT")
        assert "TYPE: BINARY" in status.text  # REIN reset the transfer type


def test_user_while_logged_in_starts_a_new_login(live: LiveServer) -> None:
    live.add_user("bob", "bob-pw", home="bobhome")
    (live.files / "alice.txt").write_bytes(b"a")
    ftp = live.login()
    assert "alice.txt" in ftp.nlst()
    assert ftp.sendcmd("USER bob").startswith("331")
    with pytest.raises(ftplib.error_perm) as exc:
        ftp.pwd()
    assert code_of(exc.value) == 530
    assert ftp.sendcmd("PASS bob-pw").startswith("230")
    assert ftp.nlst() == []  # bob's own root
    assert (live.files / "bobhome").is_dir()


def test_acct_is_superfluous(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("ACCT billing").code == 202
        assert raw.cmd("ACCT").code == 501


def test_host_before_user_only(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd("HOST ftp.example.com").code == 220
        assert raw.cmd("HOST").code == 501
        raw.login()
        assert raw.cmd("HOST ftp.example.com").code == 503
    with Raw.to(live) as raw:
        assert raw.cmd(f"USER {USER}").code == 331
        assert raw.cmd("HOST ftp.example.com").code == 503


def test_quit_says_goodbye_and_closes(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("QUIT").code == 221
        assert raw.wait_closed() == b""
    with Raw.to(live) as raw:  # QUIT before login too
        assert raw.cmd("QUIT").code == 221
        assert raw.wait_closed() == b""


def test_anonymous_root_with_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    live = start_server(Path("data"), anonymous={"enabled": True})
    try:
        (live.settings.anonymous_root / "pub.txt").write_bytes(b"pub")
        ftp = live.connect()
        ftp.login()
        assert ftp.nlst() == ["pub.txt"]
    finally:
        live.stop()
