"""TLS sessions outlive OpenSSL's 2 hours: a data connection can resume its control
connection's session (require_session_reuse) for ``tls.session_lifetime`` seconds."""

from __future__ import annotations

import io
import socket
import ssl
import threading
from pathlib import Path

import pytest
import trustme

from pasv.server.tlssession import set_lifetime
from tests.support.ftps import ftps_login, insecure_context
from tests.support.live import LiveServer, start_server

VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


def _hint_and_upload(live: LiveServer, version: ssl.TLSVersion) -> int:
    """The lifetime the server gave the control connection's session (its ticket's hint), after
    an upload whose data connection resumed that session."""
    ctx = insecure_context(minimum_version=version, maximum_version=version)
    ftp = ftps_login(live, ctx)
    ftp.voidcmd("NOOP")  # TLS 1.3: the tickets are read with a reply
    assert ftp.storbinary("STOR f.txt", io.BytesIO(b"data")).startswith("226 ")
    session = ftp.sock.session  # type: ignore[attr-defined]
    assert session is not None and session.has_ticket
    return int(session.ticket_lifetime_hint)


@pytest.mark.parametrize("version", VERSIONS, ids=["tls1.2", "tls1.3"])
def test_sessions_last_seven_days_by_default(live: LiveServer, version: ssl.TLSVersion) -> None:
    assert _hint_and_upload(live, version) == 7 * 24 * 3600  # not OpenSSL's 7,200


@pytest.mark.parametrize("version", VERSIONS, ids=["tls1.2", "tls1.3"])
def test_the_session_lifetime_is_configured(tmp_path: Path, version: ssl.TLSVersion) -> None:
    live = start_server(tmp_path / "data", tls={"session_lifetime": 90_000})
    try:
        assert _hint_and_upload(live, version) == 90_000
    finally:
        live.stop()


def test_the_lifetime_reaches_the_sessions_of_a_context() -> None:
    """What the server relies on: sessions made on a context after ``set_lifetime`` carry that
    lifetime (read back through ``ssl``'s own SSLSession.timeout on the server side)."""
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    assert set_lifetime(server, 12_345)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    a, b = socket.socketpair()
    seen: list[int] = []

    def serve() -> None:
        with server.wrap_socket(a, server_side=True) as tls:
            assert tls.session is not None
            seen.append(tls.session.timeout)
            tls.recv(1)

    thread = threading.Thread(target=serve)
    thread.start()
    with client.wrap_socket(b, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"x")
    thread.join(10)
    assert seen == [12_345]
