"""A client that begins the data connection's TLS before its transfer command (aioftp does)
gets its handshake at once; the rules of a later handshake hold for it too."""

from __future__ import annotations

import ftplib
import socket
import ssl
import threading

import pytest

from tests.server.helpers import WAIT
from tests.server.test_tls import payload
from tests.support.ftps import ftps_login, insecure_context
from tests.support.live import LiveServer


def _connect_passive(ftp: ftplib.FTP_TLS) -> socket.socket:
    host, port = ftp.makepasv()
    return socket.create_connection((host, port), timeout=WAIT)


def test_handshake_before_the_command(live: LiveServer) -> None:
    ftp = ftps_login(live)
    raw = _connect_passive(ftp)
    data = ftp.context.wrap_socket(
        raw,
        server_hostname=ftp.host,
        session=ftp.sock.session,  # type: ignore[attr-defined]
    )  # returns only once the server has answered the handshake: before any command
    assert data.session_reused
    body = payload(300_000, seed=41)
    assert ftp.sendcmd("STOR early.bin").startswith("150")
    data.sendall(body)
    data.unwrap()
    data.close()
    assert ftp.voidresp().startswith("226 Transfer complete: 300000 bytes")
    assert (live.files / "early.bin").read_bytes() == body


def test_early_handshake_must_resume_the_session(live: LiveServer) -> None:
    ftp = ftps_login(live)
    raw = _connect_passive(ftp)
    fresh = insecure_context()  # no session from the control connection: a new TLS session
    data = fresh.wrap_socket(raw, server_hostname=ftp.host)
    assert not data.session_reused
    with pytest.raises(ftplib.error_perm) as refused:
        ftp.sendcmd("STOR nope.bin")
        ftp.voidresp()
    data.close()
    assert str(refused.value).startswith("522 TLS session reuse required")
    assert not (live.files / "nope.bin").exists() or (live.files / "nope.bin").stat().st_size == 0


def test_an_unused_early_handshake_is_dropped_cleanly(live: LiveServer) -> None:
    """PASV again after a handshake that no command used: the first connection is closed.

    The new PASV may reach the server before, during or after the handshake, so the client
    sees the close as an end of stream or as a reset; it must never see the connection stay
    open, and the session goes on."""
    ftp = ftps_login(live)
    raw = _connect_passive(ftp)
    seen: list[str] = []

    def handshake() -> None:
        try:
            tls = ftp.context.wrap_socket(  # closes raw itself when the handshake fails
                raw,
                server_hostname=ftp.host,
                session=ftp.sock.session,  # type: ignore[attr-defined]
            )
        except (ssl.SSLError, OSError):
            seen.append("closed during the handshake")
            return
        with tls:
            tls.settimeout(WAIT)
            try:
                seen.append("closed" if tls.recv(10) == b"" else "data")
            except TimeoutError:
                seen.append("still open")
            except (ssl.SSLError, OSError):
                seen.append("closed")  # reset: the server closed before reading our Finished

    worker = threading.Thread(target=handshake)
    worker.start()
    ftp.makepasv()  # a new passive port: the old connection goes
    worker.join(2 * WAIT)
    assert not worker.is_alive()
    assert seen and seen[0].startswith("closed"), seen
    assert ftp.voidcmd("NOOP").startswith("200")
