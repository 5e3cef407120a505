"""The session log (commands and replies, PASS censored) and the xferlog transfer log."""

from __future__ import annotations

import ftplib
import io
import logging
import re
import time

import pytest

from tests.server.helpers import (
    BIG,
    Raw,
    big_download_started,
    retr_bytes,
)
from tests.support.live import PASSWORD, USER, LiveServer

XFERLOG = re.compile(
    r"(?P<date>\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}) (?P<seconds>\d+) (?P<host>\S+) "
    r"(?P<size>\d+) (?P<name>\S+) (?P<type>[ab]) (?P<flag>[_CUT]) (?P<direction>[oi]) "
    r"(?P<mode>[arg]) (?P<user>\S+) (?P<service>\S+) (?P<auth>[01]) (?P<authid>\S+) "
    r"(?P<completion>[ci])"
)


def xferlog(live: LiveServer) -> list[dict[str, str]]:
    path = live.settings.xferlog_path
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = XFERLOG.fullmatch(line)
        assert m, f"not an xferlog line: {line!r}"
        entries.append(m.groupdict())
    return entries


def session_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pasv.session"]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)


def test_session_log_censors_pass(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    ftp = live.login()
    ftp.pwd()
    ftp.quit()
    messages = session_messages(caplog)
    assert any(m.endswith(f"Command: USER {USER}") for m in messages)
    assert any(m.endswith("Command: PASS ****") for m in messages)
    assert any(m.endswith("Command: PWD") for m in messages)
    assert any(re.search(r"Response: 230 ", m) for m in messages)
    assert any('Response: 257 "/"' in m for m in messages)
    assert all("127.0.0.1" in m for m in messages)
    assert PASSWORD not in everything_logged(caplog)


def test_failed_password_is_not_logged(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    wrong = "Wr0ng-Hunter2-pw"
    with Raw.to(live) as raw:
        assert raw.cmd(f"USER {USER}").code == 331
        assert raw.cmd(f"PASS {wrong}").code == 530
        # lower case and with odd spacing: still a PASS command, still censored
        assert raw.cmd(f"USER {USER}").code == 331
        raw.send(f"pass {wrong}\r\n".encode())
        assert raw.reply().code == 530
    text = everything_logged(caplog)
    assert wrong not in text
    assert sum(m.endswith("Command: PASS ****") for m in session_messages(caplog)) == 2
    assert "login failed" in text


def test_session_log_shows_refusals(live: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv.session")
    with Raw.to(live) as raw:
        raw.login()
        raw.cmd("RETR missing.txt")
        raw.cmd("BOGUS")
    messages = session_messages(caplog)
    assert any(m.endswith("Command: RETR missing.txt") for m in messages)
    assert any("Response: 550 " in m for m in messages)
    assert any("Response: 500 " in m for m in messages)


def test_xferlog_one_line_per_transfer(live: LiveServer) -> None:
    (live.files / "down.bin").write_bytes(b"d" * 1234)
    ftp = live.login()
    assert retr_bytes(ftp, "down.bin") == b"d" * 1234
    ftp.storbinary("STOR up.bin", io.BytesIO(b"u" * 999))
    ftp.nlst()  # listings are not file transfers
    ftp.retrlines("LIST", lambda line: None)
    entries = xferlog(live)
    assert len(entries) == 2
    down, up = entries
    assert (down["direction"], down["size"], down["name"], down["completion"]) == (
        "o",
        "1234",
        "/down.bin",
        "c",
    )
    assert (up["direction"], up["size"], up["name"], up["completion"]) == (
        "i",
        "999",
        "/up.bin",
        "c",
    )
    for entry in entries:
        assert entry["host"] == "127.0.0.1"
        assert entry["type"] == "b"
        assert entry["mode"] == "r"
        assert entry["user"] == USER
        assert entry["service"] == "ftp"
        when = time.mktime(time.strptime(entry["date"], "%a %b %d %H:%M:%S %Y"))
        assert abs(when - time.time()) < 120


def test_xferlog_ascii_and_names_with_spaces(live: LiveServer) -> None:
    (live.files / "my notes.txt").write_bytes(b"a\nb\n")
    ftp = live.login()
    ftp.voidcmd("TYPE A")
    lines: list[str] = []
    ftp.retrlines("RETR my notes.txt", lines.append)
    assert lines == ["a", "b"]
    (entry,) = xferlog(live)
    assert entry["type"] == "a"
    assert entry["name"] == "/my_notes.txt"
    assert entry["completion"] == "c"


def test_xferlog_aborted_download_is_incomplete(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)
    try:
        assert ftp.abort().startswith("426")
        assert ftp.voidresp().startswith("226")
    finally:
        conn.close()
    (entry,) = xferlog(live)
    assert entry["completion"] == "i"
    assert entry["direction"] == "o"
    assert 0 < int(entry["size"]) < BIG


def test_xferlog_anonymous(anon: LiveServer) -> None:
    (anon.settings.anonymous_root / "pub.txt").write_bytes(b"pub")
    ftp = anon.connect()
    ftp.login()
    assert retr_bytes(ftp, "pub.txt") == b"pub"
    (entry,) = xferlog(anon)
    assert entry["mode"] == "a"
    assert entry["user"] == "anonymous"
    assert entry["completion"] == "c"


def test_xferlog_failed_before_start_writes_nothing(live: LiveServer) -> None:
    ftp = live.login()
    with pytest.raises(ftplib.error_perm, match="550"):
        retr_bytes(ftp, "missing.bin")
    assert xferlog(live) == []
