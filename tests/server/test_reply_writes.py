"""A small transfer's 150 is held for the next reply: a small download whose data connection
was ready answers 150 and 226 in one write; a larger one, or one that has to wait, sends its
150 first."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from typing import Any

from pasv.server.control import ControlProtocol
from pasv.server.handlers.transfer import HOLD_150_UP_TO
from tests.server.helpers import read_until_closed, wait_for
from tests.support.ftps import ftps_login
from tests.support.live import LiveServer


class _Writes:
    """The control transport of one session, with each write recorded (asyncio's transport,
    not ours: it only sees what ControlProtocol hands it)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _record(live: LiveServer) -> _Writes:
    wait_for(lambda: len(live.server.sessions) == 1)
    control: ControlProtocol = next(iter(live.server.sessions))
    writes = _Writes(control.transport)
    control.transport = writes  # type: ignore[assignment]
    return writes


def _download_recorded(live: LiveServer, size: int) -> list[bytes]:
    """RETR a file of ``size`` bytes over a data connection made before the command; the
    control connection's writes, as the server made them."""
    (live.files / "f.bin").write_bytes(os.urandom(size))
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    writes = _record(live)
    host, port = ftp.makepasv()
    with socket.create_connection((host, port), timeout=5) as conn:
        ftp.putcmd("RETR f.bin")
        assert ftp.getresp().startswith("150")
        assert len(read_until_closed(conn)) == size
    assert ftp.voidresp().startswith("226")
    return writes.chunks


def test_a_small_download_answers_150_and_226_in_one_write(live: LiveServer) -> None:
    chunks = _download_recorded(live, 4096)
    together = [c for c in chunks if c.startswith(b"150 ")]
    assert len(together) == 1, chunks
    lines = together[0].split(b"\r\n")
    assert lines[1].startswith(b"226 ") and lines[2] == b"", together[0]


def test_a_larger_download_says_150_at_once(live: LiveServer) -> None:
    """Above HOLD_150_UP_TO the 150 is its own write, before the data: the client reads the
    data while the server finishes."""
    chunks = _download_recorded(live, HOLD_150_UP_TO + 1)
    opening = [c for c in chunks if c.startswith(b"150 ")]
    assert len(opening) == 1 and b"226 " not in opening[0], chunks


def test_a_small_download_that_waits_sends_its_150_as_it_starts_waiting(
    live: LiveServer,
) -> None:
    """Under PROT P the client begins the data connection's TLS only once it has read the 150
    (ftplib does): the transfer waits for that handshake, so its held 150 must go out then, or
    both sides would wait for ever (the timeout would fail this test)."""
    data = os.urandom(4096)
    (live.files / "small.bin").write_bytes(data)
    ftp = ftps_login(live)
    ftp.sock.settimeout(10)
    chunks: list[bytes] = []
    assert ftp.retrbinary("RETR small.bin", chunks.append).startswith("226")
    assert b"".join(chunks) == data


def test_a_transfer_that_fails_in_its_first_step_says_150_then_why(live: LiveServer) -> None:
    """The client reset its data connection before the command: the send fails at once, and
    the held 150 goes out before the 426, in that order."""
    (live.files / "small.bin").write_bytes(os.urandom(4096))
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    writes = _record(live)
    host, port = ftp.makepasv()
    conn = socket.create_connection((host, port), timeout=5)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset, processed by the server's socket before RETR is sent
    ftp.putcmd("RETR small.bin")
    assert ftp.getline().startswith("150 ")
    assert ftp.getline().startswith("426 ")
    assert ftp.sendcmd("NOOP").startswith("200")  # the session goes on
    assert any(c.startswith(b"150 ") and b"\r\n426 " in c for c in writes.chunks), writes.chunks
