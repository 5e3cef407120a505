"""The admin listener's gate: TLS connections count from their accept (during the handshake
too) and a handshake is bounded; one address holds at most admin.max_connections_per_address
(trusted proxies excepted), so it cannot lock others out; the refusal names the limit."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pasv.admin.gate import HANDSHAKE_SECONDS, REFUSALS
from pasv.config import ConfigError, load_settings
from tests.admin.support import AdminServer, admin_server_fixture, wait_for


def _connect(server: AdminServer, source: str = "127.0.0.1") -> socket.socket:
    url = urlsplit(server.base)
    address = (url.hostname or "", url.port or 0)
    return socket.create_connection(address, timeout=10, source_address=(source, 0))


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(ssl.SSLEOFError, ConnectionResetError):
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def _refusal(answer: bytes) -> str:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), answer
    return str(json.loads(body)["error"])


def _status(sock: socket.socket, token: str) -> bytes:
    sock.sendall(
        b"GET /api/v1/status HTTP/1.1\r\nhost: admin\r\nconnection: close\r\n"
        b"authorization: Bearer " + token.encode() + b"\r\n\r\n"
    )
    return _read_all(sock).split(b"\r\n", 1)[0]


# --- TLS: handshakes are counted, and bounded --------------------------------------------

TLS_CAP = 3


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    root = tmp_path_factory.mktemp("gate-tls")
    config = root / "pasv.toml"
    config.write_text("[admin]\ntls = true\n")
    env = {"PASV_ADMIN_MAX_CONNECTIONS": str(TLS_CAP)}
    yield from admin_server_fixture(root / "data", "--config", str(config), env=env)


def _tls(server: AdminServer, source: str = "127.0.0.1") -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(server.data / "tls" / "self-signed.pem"))
    context.check_hostname = False
    return context.wrap_socket(_connect(server, source))


def _tls_status(server: AdminServer) -> bytes | None:
    try:
        with _tls(server) as sock:
            return _status(sock, server.read_token)
    except OSError:  # refused at accept, or the 503 cut short
        return None


def test_handshakes_in_progress_count_and_are_cut(tls_server: AdminServer) -> None:
    with contextlib.ExitStack() as held:
        # TLS_CAP connections that never send a ClientHello: each holds a slot in its handshake
        stalled = [held.enter_context(_connect(tls_server)) for _ in range(TLS_CAP)]
        with _tls(tls_server) as extra:  # handshake done, then told why, then closed
            assert "admin.max_connections" in _refusal(_read_all(extra))
        assert tls_server.can_log_in()  # FTP is not held by the full admin listener
        for sock in stalled:  # the server ends each handshake, far before asyncio's 60 s
            sock.settimeout(3 * HANDSHAKE_SECONDS)
            assert _read_all(sock) == b""
    # their slots are free again
    assert wait_for(lambda: _tls_status(tls_server) == b"HTTP/1.1 200 OK", what="a free slot")


def test_a_flood_of_stalled_handshakes_holds_no_more_than_the_cap(tls_server: AdminServer) -> None:
    flood = 200
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(_connect(tls_server)) for _ in range(flood)]
        for sock in socks:
            sock.setblocking(False)
        # TLS_CAP are in their handshake, REFUSALS wait for one to be told why; the server
        # closes every other one as it accepts it
        kept = TLS_CAP + REFUSALS
        closed = wait_for(lambda: _closed(socks) >= flood - kept and _closed(socks))
        assert flood - closed <= kept


def _closed(socks: list[socket.socket]) -> int:
    count = 0
    for sock in socks:
        try:
            count += sock.recv(1) == b""
        except BlockingIOError:  # open, nothing sent to it
            pass
        except ConnectionResetError:
            count += 1
    return count


# --- one address's share -----------------------------------------------------------------

CAP, SHARE, PROXY = 6, 2, "127.0.0.3"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    env = {
        "PASV_ADMIN_MAX_CONNECTIONS": str(CAP),
        "PASV_ADMIN_MAX_CONNECTIONS_PER_ADDRESS": str(SHARE),
        "PASV_ADMIN_TRUSTED_PROXIES": PROXY,
    }
    yield from admin_server_fixture(tmp_path_factory.mktemp("gate") / "data", env=env)


def test_one_address_cannot_take_every_slot(server: AdminServer) -> None:
    with contextlib.ExitStack() as held:
        [held.enter_context(_connect(server, "127.0.0.2")) for _ in range(SHARE)]
        with _connect(server, "127.0.0.2") as extra:  # answered before it says anything
            error = _refusal(_read_all(extra))
        assert "127.0.0.2" in error and "admin.max_connections_per_address" in error
        # another address still gets in (CAP - SHARE slots are left)
        with _connect(server, "127.0.0.1") as other:
            assert _status(other, server.read_token) == b"HTTP/1.1 200 OK"
    # the hog's connections closed: its address gets in again
    assert wait_for(lambda: _plain_status(server, "127.0.0.2") == b"HTTP/1.1 200 OK")


def _plain_status(server: AdminServer, source: str) -> bytes | None:
    with _connect(server, source) as sock:
        return _status(sock, server.read_token)


def test_a_trusted_proxy_has_no_share_but_the_cap(server: AdminServer) -> None:
    with contextlib.ExitStack() as held:
        # the proxy carries many clients: past one address's share, up to the cap
        [held.enter_context(_connect(server, PROXY)) for _ in range(CAP - 1)]
        with _connect(server, PROXY) as last:
            assert _status(last, server.read_token) == b"HTTP/1.1 200 OK"


# --- settings ----------------------------------------------------------------------------


def test_the_share_is_validated(tmp_path: Path) -> None:
    settings = load_settings(None, None, environ={})
    assert settings.admin.max_connections_per_address == 16
    lower = {"PASV_ADMIN_MAX_CONNECTIONS": "3"}
    assert load_settings(None, None, environ=lower).admin.address_share == 3
    for bad, why in [
        ({"max_connections": 8, "max_connections_per_address": 9}, "more than"),
        ({"max_connections_per_address": 0}, "greater than or equal to 1"),
        ({"max_connections_per_address": "many"}, "integer"),
    ]:
        with pytest.raises(ConfigError, match="max_connections_per_address") as raised:
            load_settings(None, {"admin": bad}, environ={})
        assert why in str(raised.value)
