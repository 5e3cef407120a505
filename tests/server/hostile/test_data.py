"""Data-connection theft: a connection from another loopback address (127.0.0.2) that arrives
right after PASV/EPSV, before the real client and before the transfer command, can neither
read a download nor inject bytes into an upload. (PORT/EPRT bounce and privileged ports:
tests/server/test_datachannel.py.)"""

from __future__ import annotations

import contextlib
import ftplib
import socket

import pytest

from tests.server.helpers import data_socket, read_until_closed, readable, retr_bytes, wait_for
from tests.server.hostile.support import assert_served, rss_kib
from tests.support.live import LiveServer


def _passive(ftp: ftplib.FTP, verb: str) -> tuple[str, int]:
    if verb == "PASV":
        return ftp.makepasv()
    port = int(ftp.sendcmd("EPSV").split("|||")[1].split("|")[0])
    return "127.0.0.1", port


@pytest.mark.parametrize("verb", ["PASV", "EPSV"])
def test_thief_before_the_client_cannot_inject_into_an_upload(live: LiveServer, verb: str) -> None:
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    host, port = _passive(ftp, verb)
    thief = socket.create_connection((host, port), timeout=5, source_address=("127.0.0.2", 0))
    try:
        with contextlib.suppress(OSError):  # may be refused already
            thief.sendall(b"INJECTED BY A THIEF" * 100)
        assert readable(thief, 5)  # the server closes the thief's connection at once
        assert read_until_closed(thief) == b""
    finally:
        thief.close()
    with socket.create_connection((host, port), timeout=5) as conn:
        assert ftp.sendcmd("STOR up.bin").startswith("150")
        conn.sendall(b"the real upload")
    assert ftp.voidresp().startswith("226")
    assert retr_bytes(ftp, "up.bin") == b"the real upload"
    assert_served(live)


def test_thief_before_the_client_gets_no_download(live: LiveServer) -> None:
    (live.files / "private.txt").write_bytes(b"for the real client only")
    ftp = live.login()
    host, port = ftp.makepasv()
    with socket.create_connection(
        (host, port), timeout=5, source_address=("127.0.0.2", 0)
    ) as thief:
        assert read_until_closed(thief) == b""  # closed before any transfer command
    with socket.create_connection((host, port), timeout=5) as conn:
        assert ftp.sendcmd("RETR private.txt").startswith("150")
        assert read_until_closed(conn) == b"for the real client only"
    assert ftp.voidresp().startswith("226")


def test_open_uploads_cost_memory_for_the_bytes_in_hand(live: LiveServer) -> None:
    """Sixty uploads that each sent one byte and then stall hold little memory (each held
    2 MiB of zeroed buffers before), and the server goes on serving."""
    before = rss_kib()
    held: list[tuple[ftplib.FTP, socket.socket]] = []
    try:
        for index in range(60):
            ftp = live.login()
            conn = data_socket(ftp)
            held.append((ftp, conn))
            assert ftp.sendcmd(f"STOR slow{index}").startswith("150")
            conn.sendall(b"x")
        wait_for(lambda: all((live.files / f"slow{i}").stat().st_size == 1 for i in range(60)))
        assert rss_kib() - before < 30 * 1024  # 60 x 2 MiB would be 120 MiB
        assert_served(live)
    finally:
        for ftp, conn in held:
            conn.close()
            ftp.close()
