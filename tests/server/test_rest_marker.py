"""REST applies to the transfer that follows it (RFC 959, RFC 3659 section 5): the commands real
clients send in between keep it, any other command clears it, and a refused transfer uses it up."""

from __future__ import annotations

import re
import socket

import pytest

from tests.server.helpers import Raw, read_until_closed
from tests.server.policy.rules import rule
from tests.support.live import LiveServer

DATA = b"0123456789"


def _connect(raw: Raw, how: str = "EPSV") -> socket.socket:
    """Set up a passive data connection with ``how`` (EPSV or PASV) and connect to it."""
    reply = raw.cmd(how)
    assert reply.code in (227, 229), reply
    numbers = [int(n) for n in re.findall(r"\d+", reply.text.split("(", 1)[1])]
    port = numbers[-1] if how == "EPSV" else numbers[-2] * 256 + numbers[-1]
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _retr(raw: Raw, name: str = "f.bin", how: str = "EPSV") -> bytes:
    with _connect(raw, how) as conn:
        opening = raw.cmd(f"RETR {name}")
        assert opening.code == 150, opening
        data = read_until_closed(conn)
    assert raw.reply().code == 226
    return data


def _stor(raw: Raw, data: bytes, name: str = "f.bin") -> None:
    with _connect(raw) as conn:
        opening = raw.cmd(f"STOR {name}")
        assert opening.code == 150, opening
        conn.sendall(data)
    assert raw.reply().code == 226


@pytest.mark.parametrize(
    "between", ["SIZE f.bin", "MDTM f.bin", "CWD /", "PWD", "FEAT", "SYST", "MKD d", "DELE x"]
)
def test_a_command_between_rest_and_retr_clears_the_offset(live: LiveServer, between: str) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    (live.files / "x").write_bytes(b"x")
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("REST 4").code == 350
        raw.cmd(between)
        assert _retr(raw) == DATA  # the whole file, not from byte 4


def test_a_listing_between_rest_and_retr_clears_the_offset(live: LiveServer) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("REST 4").code == 350
        with _connect(raw) as conn:
            assert raw.cmd("LIST").code == 150
            assert b"f.bin" in read_until_closed(conn)
        assert raw.reply().code == 226
        assert _retr(raw) == DATA


def test_a_command_between_rest_and_stor_clears_the_offset(live: LiveServer) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("REST 4").code == 350
        assert raw.cmd("SIZE f.bin").code == 213
        _stor(raw, b"XY")
    assert (live.files / "f.bin").read_bytes() == b"XY"  # a new file, not 0123XY


@pytest.mark.parametrize("missing", ["RETR missing.bin", "RETR", "STOR /no/such/dir/f"])
def test_a_failed_transfer_uses_the_rest_up(live: LiveServer, missing: str) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("REST 4").code == 350
        if missing.startswith("STOR"):
            with _connect(raw):
                assert raw.cmd(missing).code in (501, 550)
        else:
            assert raw.cmd(missing).code in (501, 550)
        assert _retr(raw) == DATA


def test_a_refused_retr_uses_the_rest_up(live: LiveServer) -> None:
    (live.files / "secret").mkdir()
    (live.files / "secret" / "s.bin").write_bytes(DATA)
    (live.files / "f.bin").write_bytes(DATA)
    live.policy.add_rule(rule("deny", "/secret", "RETR"))
    live.reload_policy()
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("REST 4").code == 350
        assert raw.cmd("RETR secret/s.bin").code == 550
        assert _retr(raw) == DATA


@pytest.mark.parametrize(
    "sequence",
    [
        ["TYPE I", "PASV", "REST 4"],  # FileZilla
        ["EPSV", "TYPE I", "SIZE f.bin", "REST 4"],  # curl -C
        ["EPSV", "REST 4"],  # lftp (PRET, EPSV or PORT, ALLO on uploads, REST, the transfer)
        ["REST 4", "TYPE I", "MODE S", "STRU F", "PASV"],  # REST before the rest of the setup
        ["REST 4", "NOOP", "STAT", "EPSV"],  # RFC 959: NOOP and STAT change nothing
        ["REST 9", "REST 4", "EPSV"],  # the last REST counts
    ],
    ids=["filezilla", "curl", "lftp", "rest-first", "noop-stat", "rest-twice"],
)
def test_what_clients_send_between_rest_and_retr_keeps_the_offset(
    live: LiveServer, sequence: list[str]
) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    with Raw.to(live) as raw:
        raw.login()
        conn: socket.socket | None = None
        for line in sequence:
            if line in ("PASV", "EPSV"):
                conn = _connect(raw, line)
            else:
                assert raw.cmd(line).code < 400, line
        if conn is None:
            conn = _connect(raw)
        with conn:
            assert raw.cmd("RETR f.bin").code == 150
            assert read_until_closed(conn) == DATA[4:]
        assert raw.reply().code == 226
        assert _retr(raw) == DATA  # used up by the RETR


def test_lftp_upload_order_keeps_the_offset(live: LiveServer) -> None:
    (live.files / "f.bin").write_bytes(DATA)
    with Raw.to(live) as raw:
        raw.login()
        with _connect(raw) as conn:
            assert raw.cmd("ALLO 6").code < 300
            assert raw.cmd("REST 4").code == 350
            assert raw.cmd("STOR f.bin").code == 150
            conn.sendall(b"XY")
        assert raw.reply().code == 226
    assert (live.files / "f.bin").read_bytes() == b"0123XY"
