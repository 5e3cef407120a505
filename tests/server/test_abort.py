"""ABOR (urgent, plain, RFC 959 Synch, pipelined, while connecting) and a control connection
that stays responsive (STAT progress) while a download is paused; NOOP's order:
test_reply_order.py."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path

import pytest

from tests.server.helpers import (
    BIG,
    SMALL_RCVBUF,
    Raw,
    big_download_started,
    big_file,
    data_socket,
    read_until_closed,
    wait_for,
)
from tests.support.live import LiveServer, start_server


def test_abor_oob_during_retr(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)
    try:
        reply = ftp.abort()  # urgent (MSG_OOB) ABOR
        assert reply.startswith("426 ")
        assert ftp.voidresp().startswith("226 ")
    finally:
        conn.close()
    assert ftp.sendcmd("NOOP").startswith("200")
    lines = live.settings.xferlog_path.read_text().splitlines()
    assert lines[-1].split()[-1] == "i"


def test_plain_abor_during_retr(live: LiveServer) -> None:
    big_file(live)
    with Raw.to(live) as raw:
        raw.login()
        port = int(re.findall(r"\d+", raw.cmd("EPSV").text)[0])
        with socket.socket() as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
            conn.settimeout(5)
            conn.connect(("127.0.0.1", port))
            assert raw.cmd("RETR big.bin").code == 150
            assert len(conn.recv(65536)) > 0
            raw.send(b"ABOR\r\n")
            assert raw.reply().code == 426
            assert raw.reply().code == 226
            # the server closed the data connection
            got = read_until_closed(conn)
            assert len(got) < BIG
        assert raw.cmd("NOOP").code == 200


def test_abor_without_transfer(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("PASV").code == 227
        reply = raw.cmd("ABOR")
        assert reply.code == 226
        assert raw.cmd("LIST").code == 425  # ABOR dropped the prepared channel
        assert raw.cmd("ABOR").code == 226


def test_control_stays_responsive_during_paused_download(live: LiveServer) -> None:
    big_file(live)
    ftp = live.login()
    conn = data_socket(ftp, rcvbuf=SMALL_RCVBUF)
    try:
        assert ftp.sendcmd("RETR big.bin").startswith("150")
        first = conn.recv(65536)
        assert first
        status = ftp.sendcmd("STAT")
        m = re.fullmatch(r"213 Status: RETR /big\.bin: (\d+) of (\d+) bytes .*", status)
        assert m, status
        assert 0 < int(m.group(1)) < BIG == int(m.group(2))
        total = len(first) + len(read_until_closed(conn, timeout=30))
    finally:
        conn.close()
    assert total == BIG
    assert ftp.voidresp().startswith("226")
    assert ftp.sendcmd("STAT").startswith("211")


def test_rfc959_synch_abor_during_retr(live: LiveServer) -> None:
    """Telnet IP, then IAC as urgent data, then DM and ABOR (what RFC 959 clients send)."""
    ftp, conn = big_download_started(live)
    try:
        ftp.sock.sendall(b"\xff\xf4")
        ftp.sock.sendall(b"\xff", socket.MSG_OOB)
        ftp.sock.sendall(b"\xf2ABOR\r\n")
        assert ftp.getline().startswith("426 ")
        assert ftp.getline().startswith("226 ")
    finally:
        conn.close()
    assert ftp.sendcmd("PWD").startswith("257")


def test_commands_pipelined_after_abor_answer_in_order(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)
    try:
        ftp.sock.sendall(b"ABOR\r\nNOOP\r\nPWD\r\n")
        codes = [ftp.getline()[:3] for _ in range(4)]
    finally:
        conn.close()
    assert codes == ["426", "226", "200", "257"]


def test_abor_during_stor_keeps_what_arrived(live: LiveServer) -> None:
    ftp = live.login()
    conn = data_socket(ftp)
    sent = b"k" * 100_000
    try:
        assert ftp.sendcmd("STOR part.bin").startswith("150")
        conn.sendall(sent)
        wait_for(lambda: f"{len(sent)} bytes" in ftp.sendcmd("STAT"))
        assert ftp.abort().startswith("426")
        assert ftp.voidresp().startswith("226")
    finally:
        conn.close()
    assert (live.files / "part.bin").read_bytes() == sent
    assert live.settings.xferlog_path.read_text().split()[-1] == "i"


@pytest.mark.parametrize("mode", ["passive", "active"])
def test_abor_while_waiting_for_the_data_connection(tmp_path: Path, mode: str) -> None:
    live = start_server(tmp_path / "data", timeouts={"data_connect": 20})
    try:
        (live.files / "f").write_bytes(b"f")
        with (
            contextlib.ExitStack() as stack,
            Raw.to(live) as raw,
            socket.create_server(("127.0.0.1", 0), backlog=0) as sink,
        ):
            raw.login()
            if mode == "passive":
                assert raw.cmd("PASV").code == 227
            else:  # a listener that never accepts, with a full backlog, keeps connect() waiting
                port = sink.getsockname()[1]
                filler = socket.create_connection(("127.0.0.1", port), timeout=5)
                stack.enter_context(filler)
                assert raw.cmd(f"EPRT |1|127.0.0.1|{port}|").code == 200
            raw.send(b"RETR f\r\n")
            started = time.monotonic()
            status = raw.cmd("STAT")  # answered while RETR waits
            assert status.code == 213
            assert "RETR /f" in status.text
            raw.send(b"ABOR\r\n")
            assert raw.reply().code == 426
            assert raw.reply().code == 226
            assert time.monotonic() - started < 10
            assert raw.cmd("NOOP").code == 200
        wait_for(lambda: not live.server.passive_pool.in_use)
    finally:
        live.stop()
