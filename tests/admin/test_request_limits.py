"""Hostile HTTP to the admin listener: huge bodies are refused unread, slow requests are cut."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from pasv.admin.limits import MAX_BODY, BodyLimit, deadline_protocol
from tests.admin.support import AdminServer, admin_server_fixture, error_of


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("limits") / "data")


def _chunks(size: int) -> Iterator[bytes]:
    piece = b"a" * 65536
    for _ in range(size // len(piece)):
        yield piece


def test_a_body_over_the_limit_is_refused_before_the_token_check(server: AdminServer) -> None:
    big = b'{"name": "x", "password": "' + b"a" * (MAX_BODY + 1) + b'"}'
    with server.client() as anon:
        r = anon.post("/api/v1/users", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and "larger than" in error_of(r)
    with server.api() as api:
        # sent in chunks, without a Content-Length: cut as soon as it passes the limit
        r = api.post(
            "/api/v1/rules",
            content=_chunks(3 * MAX_BODY),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        # a body under the limit still works, and nothing was made by the refused ones
        assert api.get("/api/v1/status").status_code == 200
        assert api.get("/api/v1/rules").json() == []
        assert all(u["name"] != "x" for u in api.get("/api/v1/users").json())


def test_the_console_login_form_has_the_same_limit(server: AdminServer) -> None:
    with server.client() as anon:
        r = anon.post(
            "/console/login",
            content=b"token=" + b"a" * (2 * MAX_BODY),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413


@pytest.fixture
async def slow_app() -> AsyncIterator[int]:
    """A small app behind the admin listener's protocol, with a deadline of half a second."""
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    config = uvicorn.Config(
        BodyLimit(app), http=deadline_protocol(0.5), lifespan="off", log_config=None
    )
    config.load()
    web = uvicorn.Server(config)
    web.lifespan = config.lifespan_class(config)  # as pasv.admin.service does
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    await web.startup(sockets=[sock])
    try:
        yield sock.getsockname()[1]
    finally:
        web.should_exit = True
        await web.shutdown()
        sock.close()


async def _closed_without_answer(port: int, sent: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    try:
        async with asyncio.timeout(10):  # far beyond the deadline: a bound, not a measure
            return await reader.read()
    finally:
        writer.close()


async def test_a_request_never_finished_is_cut_at_the_deadline(slow_app: int) -> None:
    # headers begun and never ended (slowloris), a body promised and not sent, nothing at all
    assert await _closed_without_answer(slow_app, b"GET /echo HTTP/1.1\r\nHost: x\r\n") == b""
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
    assert await _closed_without_answer(slow_app, head) == b""
    assert await _closed_without_answer(slow_app, b"") == b""


async def test_a_finished_request_is_answered_and_the_next_one_gets_its_own_deadline(
    slow_app: int,
) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{slow_app}") as client:
        for _ in range(3):  # one connection, kept alive
            r = await client.post("/echo", content=b"x" * 1000)
            assert r.json() == {"size": 1000}
        r = await client.post("/echo", content=b"x" * (2 * MAX_BODY))
        assert r.status_code == 413
