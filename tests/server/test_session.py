"""Session basics: login and idle timeouts, line length, garbage input, pipelining, and one
session's trouble never reaching another."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.protocol.parser import Command
from pasv.server.control import ControlProtocol
from pasv.server.handlers import HANDLERS
from pasv.server.registry import describe
from tests.server.helpers import (
    Raw,
    big_download_started,
    data_socket,
    read_until_closed,
    readable,
    retr_bytes,
    wait_for,
)
from tests.support.live import PASSWORD, USER, LiveServer, start_server


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[LiveServer]:
    """A server with short login and idle timeouts."""
    server = start_server(tmp_path / "data", timeouts={"login": 0.5, "idle": 0.5})
    yield server
    server.stop()


def test_login_timeout(quick: LiveServer) -> None:
    started = time.monotonic()
    with Raw.to(quick) as raw:
        reply = raw.reply()
        assert reply.code == 421
        assert reply.text.startswith("Login timeout (0.5 seconds)")
        assert time.monotonic() - started >= 0.5
        assert raw.wait_closed() == b""


def test_login_timeout_after_user(quick: LiveServer) -> None:
    with Raw.to(quick) as raw:
        assert raw.cmd(f"USER {USER}").code == 331
        reply = raw.reply()
        assert reply.code == 421
        assert "Login timeout" in reply.text
        assert raw.wait_closed() == b""


def test_idle_timeout(quick: LiveServer) -> None:
    with Raw.to(quick) as raw:
        started = time.monotonic()  # before the reply that starts the idle time is sent
        raw.login()
        reply = raw.reply()
        assert reply.code == 421
        assert reply.text.startswith("Idle timeout (0.5 seconds)")
        assert time.monotonic() - started >= 0.5
        assert raw.wait_closed() == b""


def test_commands_keep_a_session_alive(quick: LiveServer) -> None:
    with Raw.to(quick) as raw:
        raw.login()
        started = time.monotonic()
        while time.monotonic() - started < 1.2:  # well past the idle timeout, in small steps
            assert raw.quiet_for(0.15)
            assert raw.cmd("NOOP").code == 200


def test_no_idle_timeout_during_a_transfer(quick: LiveServer) -> None:
    ftp, conn = big_download_started(quick)
    try:
        # the download is paused for twice the idle timeout: the session must survive it
        assert not readable(ftp.sock, 1.0)
        got = read_until_closed(conn, timeout=30)
        assert len(got) > 0
    finally:
        conn.close()
    assert ftp.voidresp().startswith("226")
    assert ftp.getline().startswith("421 Idle timeout")  # and idle counting starts again


@pytest.mark.parametrize("again", ["REIN", f"USER {USER}"])
def test_new_login_gets_a_fresh_login_timer(tmp_path: Path, again: str) -> None:
    live = start_server(tmp_path / "data", timeouts={"login": 0.6})
    try:
        with Raw.to(live) as raw:
            raw.login()
            assert raw.quiet_for(0.8)  # logged in longer than the login timeout
            assert raw.cmd(again).code in (220, 331)
            assert raw.quiet_for(0.3), "the login timer was not restarted"
            if again == "REIN":
                assert raw.cmd(f"USER {USER}").code == 331
            assert raw.cmd(f"PASS {PASSWORD}").code == 230
    finally:
        live.stop()


def test_line_too_long_then_session_goes_on(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"max_line_length": 256})
    try:
        with Raw.to(live) as raw:
            raw.login()
            reply = raw.cmd("NOOP " + "x" * 300)
            assert reply.code == 500
            assert "too long" in reply.text
            assert raw.cmd("NOOP").code == 200
            assert raw.cmd("CWD " + "a" * 252).code == 550  # 256 bytes: allowed, no such dir
            assert raw.cmd("CWD " + "a" * 253).code == 500
            assert raw.cmd("PWD").code == 257
    finally:
        live.stop()


def test_huge_line_is_refused_once(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        line = b"STOR " + b"A" * 100_000 + b"\r\n"
        for start in range(0, len(line), 7_000):  # arrives in many pieces
            raw.send(line[start : start + 7_000])
        reply = raw.reply()
        assert reply.code == 500
        assert raw.cmd("PWD").code == 257  # exactly one reply for the long line
        assert raw.quiet_for(0.05)


GARBAGE = [
    b"\x00\x01\x02\x03",
    b"\xff\xfe\xfd\xfc\xfb\xfa",
    b"\xc3\x28\xa0\xa1",
    b"\x80\x81 \x82",
    b"NOOP\x00",
    b"\x00NOOP",
    b"USER \xff\xff\xff",
    b"CWD \xc3\x28",
    b"",
    b"   ",
    b"\x1b[31mRED",
    b"R\xc3\xa9TR x",
    b"A" * 11,
    b"123 456",
]


def test_garbage_gets_well_formed_replies(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pasv")
    with Raw.to(live) as raw:
        raw.login()
        for junk in GARBAGE:
            raw.send(junk + b"\r\n")
            reply = raw.reply()
            assert 200 <= reply.code < 600, (junk, reply)
            assert raw.cmd("NOOP").code == 200, junk
        raw.login()  # "USER \xff" started a new login, as USER does
        assert raw.cmd("PWD").code == 257
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_garbage_before_login(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.send(b"\xde\xad\xbe\xef\r\n\x00\x00\r\n")
        assert raw.reply().code == 500
        assert raw.reply().code == 500
        raw.login()


def test_bare_lf_and_telnet_commands(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        raw.send(b"NOOP\n")
        assert raw.reply().code == 200
        raw.send(b"\xff\xf4\xff\xf2NOOP\r\n")  # IAC IP, IAC DM before a command
        assert raw.reply().code == 200
        raw.send(b"\xff\xfb\x01PWD\r\n")  # IAC WILL ECHO
        assert raw.reply().code == 257


def test_pipelined_commands_answer_in_order(live: LiveServer) -> None:
    (live.files / "sub").mkdir()
    (live.files / "f").write_bytes(b"f")
    with Raw.to(live) as raw:
        raw.send(
            f"USER {USER}\r\nPASS {PASSWORD}\r\nPWD\r\nCWD sub\r\nPWD\r\nSIZE /f\r\nBOGUS\r\n"
            "CDUP\r\nPWD\r\n".encode()
        )
        codes = [raw.reply() for _ in range(9)]
        assert [r.code for r in codes] == [331, 230, 257, 250, 257, 213, 500, 250, 257]
        assert codes[4].text.startswith('"/sub"')
        assert codes[8].text.startswith('"/"')


def test_many_pipelined_commands(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        raw.send(b"NOOP\r\n" * 300 + b"PWD\r\n")
        assert all(raw.reply().code == 200 for _ in range(300))
        assert raw.reply().code == 257


def test_command_pipelined_after_a_transfer_waits_for_it(live: LiveServer) -> None:
    (live.files / "f").write_bytes(b"z" * 200_000)
    ftp = live.login()
    with data_socket(ftp) as conn:
        ftp.putcmd("RETR f")
        ftp.putcmd("PWD")
        assert ftp.getresp().startswith("150")
        assert read_until_closed(conn) == b"z" * 200_000
    assert ftp.voidresp().startswith("226")
    assert ftp.getresp().startswith("257")


def test_handler_crash_is_451_and_session_goes_on(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(s: object, arg: str) -> None:
        raise RuntimeError("boom in a handler")

    async def broken_async(s: object, arg: str) -> None:
        raise KeyError("boom in a coroutine")

    monkeypatch.setitem(HANDLERS, "SYST", broken)
    monkeypatch.setitem(HANDLERS, "MDTM", broken_async)
    caplog.set_level(logging.ERROR, logger="pasv")
    with Raw.to(live) as raw, Raw.to(live) as other:
        raw.login()
        other.login()
        for line in ("SYST", "MDTM x"):
            reply = raw.cmd(line)
            assert reply.code == 451
            assert "boom" not in reply.text
            assert raw.cmd("NOOP").code == 200
        assert other.cmd("PWD").code == 257
    crashes = [r for r in caplog.records if r.exc_info]
    assert len(crashes) == 2


def test_one_sessions_trouble_leaves_others_alone(live: LiveServer) -> None:
    data = bytes(range(256)) * 4000
    (live.files / "f.bin").write_bytes(data)
    good = live.login()
    conn = data_socket(good)
    try:
        assert good.sendcmd("RETR f.bin").startswith("150")
        with Raw.to(live) as bad:
            bad.send(b"\xff\x00garbage\r\n" + b"B" * 10_000 + b"\r\n")
            assert bad.reply().code == 500
            assert bad.reply().code == 500
            for _ in range(3):
                assert bad.cmd(f"USER {USER}").code == 331
                bad.cmd("PASS wrong")
            assert bad.wait_closed() == b""
        with Raw.to(live) as rude:  # disconnects in the middle of its own transfer
            rude.login()
            port = int(rude.cmd("EPSV").text.split("|||")[1].split("|")[0])
            with socket.create_connection(("127.0.0.1", port), timeout=5) as rude_data:
                rude.send(b"RETR f.bin\r\n")
                assert rude.reply().code == 150
                rude.close()
                read_until_closed(rude_data)
        assert read_until_closed(conn) == data
    finally:
        conn.close()
    assert good.voidresp().startswith("226")
    assert retr_bytes(good, "f.bin") == data
    wait_for(lambda: len(live.server.sessions) == 1)
    wait_for(lambda: not live.server.passive_pool.in_use)


def test_idle_timeout_releases_the_passive_port(quick: LiveServer) -> None:
    with Raw.to(quick) as raw:
        raw.login()
        assert raw.cmd("PASV").code == 227
        assert quick.server.passive_pool.in_use
        assert raw.reply().code == 421
        assert raw.wait_closed() == b""
    wait_for(lambda: not quick.server.passive_pool.in_use)


def test_rein_does_not_reset_the_failure_count(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        for _ in range(2):
            assert raw.cmd(f"USER {USER}").code == 331
            assert raw.cmd("PASS nope").code == 530
        assert raw.cmd("REIN").code == 220
        assert raw.cmd(f"USER {USER}").code == 331
        assert raw.cmd("PASS nope").code == 421
        assert raw.wait_closed() == b""


def test_session_limit(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"max_sessions": 2})
    try:
        with Raw.to(live) as first, Raw.to(live):
            with socket.create_connection((live.host, live.port), timeout=5) as third:
                refused = read_until_closed(third)
            assert refused == b"421 Too many users - please try again later.\r\n"
            assert first.cmd("QUIT").code == 221
            wait_for(lambda: len(live.server.sessions) == 1)
            with Raw.to(live) as again:
                assert again.greeting.code == 220
    finally:
        live.stop()


def test_an_idle_session_keeps_no_password(live: LiveServer) -> None:
    """After login the session remembers its last command (the admin console shows it), but
    not the password that PASS carried: an idle session must not hold it for hours."""
    ftp = live.login()
    try:
        wait_for(lambda: len(live.server.sessions) == 1)
        control: ControlProtocol = next(iter(live.server.sessions))
        last = control.session.last_command
        assert isinstance(last, Command) and last.name == "PASS"
        assert PASSWORD not in repr(last)
        assert describe(control, "node", 0, time.time()).command == "PASS ****"
        ftp.voidcmd("NOOP")
        assert describe(control, "node", 0, time.time()).command == "NOOP"
    finally:
        ftp.close()
