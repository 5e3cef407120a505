"""Closing a TLS control connection: close_notify first, and the socket closed on return even
when the server never answers it (asyncio would otherwise keep it open for its 30 s TLS shutdown
timeout, past the end of a short-lived event loop)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pasv.client.control import ControlConnection
from tests.support.ftps import Pki, make_pki


@dataclass
class SilentTlsServer:
    """Implicit TLS: completes the handshake, then reads and never answers close_notify."""

    pki: Pki
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    notified: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.chain_file)
        conn, _ = self.listener.accept()
        conn.settimeout(60)
        with context.wrap_socket(conn, server_side=True) as tls:
            try:
                while tls.recv(1024):  # b"": the client's close_notify
                    pass
                self.notified.set()
                while socket.socket.recv(tls, 1024):  # the TCP stream under TLS, to its end
                    pass
            except OSError:
                pass
            finally:
                self.ended.set()


@pytest.fixture
def silent(tmp_path: Path) -> Iterator[SilentTlsServer]:
    server = SilentTlsServer(make_pki(tmp_path / "pki"))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield server
    server.listener.close()
    thread.join(timeout=70)


async def test_an_unanswered_close_notify_does_not_leave_the_socket_open(
    silent: SilentTlsServer,
) -> None:
    conn = await ControlConnection.open(
        "127.0.0.1", silent.port, context=silent.pki.client_context(), timeout=10
    )
    raw = conn._writer.get_extra_info("socket")
    assert raw is not None and raw.fileno() >= 0
    await conn.close()
    assert raw.fileno() == -1  # closed here, not 30 s later by the loop's TLS shutdown
    assert silent.notified.is_set()  # the clean end was tried first
    assert silent.ended.wait(30)  # and the server saw the connection end
