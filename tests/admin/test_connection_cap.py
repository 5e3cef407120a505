"""admin.max_connections: connections over the cap are answered 503 and closed as they open
(nothing of theirs is read); one that closes makes room; FTP is not touched."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.admin.support import AdminServer, admin_server_fixture, wait_for

CAP = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    env = {"PASV_ADMIN_MAX_CONNECTIONS": str(CAP)}
    yield from admin_server_fixture(tmp_path_factory.mktemp("cap") / "data", env=env)


def _connect(server: AdminServer) -> socket.socket:
    url = urlsplit(server.base)
    return socket.create_connection((url.hostname or "", url.port or 0), timeout=10)


def _answer_unasked(sock: socket.socket) -> bytes:
    """What the server sends a connection that says nothing, up to its close."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _status(server: AdminServer) -> int:
    with server.client(server.read_token) as api:
        return api.get("/api/v1/status").status_code


def test_connections_over_the_cap_are_refused_at_once(server: AdminServer) -> None:
    with contextlib.ExitStack() as held:
        # CAP idle connections (accepted in order: the next one is over the cap)
        idle = [held.enter_context(_connect(server)) for _ in range(CAP)]
        with _connect(server) as extra:
            answer = _answer_unasked(extra)  # answered before it sends a byte, then closed
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in head.lower()
        assert "admin.max_connections" in json.loads(body)["error"]
        assert server.can_log_in()  # FTP is not held by the full admin listener
        idle[0].close()  # one leaves: the next connection gets in
        assert wait_for(lambda: _status_or_none(server) == 200, what="room for a connection")


def _status_or_none(server: AdminServer) -> int | None:
    try:
        return _status(server)
    except httpx.HTTPError:  # the 503 sent before the request may come as a reset
        return None
