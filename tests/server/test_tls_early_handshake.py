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
        # A memory-BIO handshake over the raw socket, which stays ours to close: the stdlib's
        # wrap_socket leaks its SSLSocket when the connection is reset before the handshake.
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ftp.context.wrap_bio(
            incoming,
            outgoing,
            server_hostname=ftp.host,
            session=ftp.sock.session,  # type: ignore[attr-defined]
        )
        with raw:
            raw.settimeout(WAIT)
            seen.append(_after_handshake(raw, tls, incoming, outgoing))

    worker = threading.Thread(target=handshake)
    worker.start()
    ftp.makepasv()  # a new passive port: the old connection goes
    worker.join(2 * WAIT)
    assert not worker.is_alive()
    assert seen and seen[0].startswith("closed"), seen
    assert ftp.voidcmd("NOOP").startswith("200")


def _pump(raw: socket.socket, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> bool:
    """Send what TLS wrote and feed it what arrived; False at the end of the stream."""
    if outgoing.pending:
        raw.sendall(outgoing.read())
    chunk = raw.recv(65536)
    incoming.write(chunk)
    return chunk != b""


def _after_handshake(
    raw: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
) -> str:
    """What the server did with a handshake that no command used."""
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if not _pump(raw, incoming, outgoing):
                    return "closed during the handshake"
        while True:  # the handshake is done: the connection must now end
            try:
                return "data" if tls.read(10) else "closed"
            except ssl.SSLZeroReturnError:
                return "closed"
            except ssl.SSLWantReadError:
                if not _pump(raw, incoming, outgoing):
                    return "closed"
    except TimeoutError:
        return "still open"
    except (ssl.SSLError, OSError):
        return "closed (reset)"  # the server closed before reading all we sent
