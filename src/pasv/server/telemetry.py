"""The telemetry listener: GET /metrics on its own port, HTTP/1.1 by h11, in the server loop."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from http import HTTPStatus

import h11

log = logging.getLogger("pasv.telemetry")

_READ_TIMEOUT = 10.0  # seconds a client has to send its request
_MAX_HEAD = 16384  # bytes of request line and headers


class Telemetry:
    """Serves ``render(accept)`` (body, content type) at /metrics; every other path is 404,
    other methods 405."""

    def __init__(self, render: Callable[[str], tuple[bytes, str]]) -> None:
        self.render = render
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        if sock is not None:
            self._server = await asyncio.start_server(self._serve, sock=sock)
        else:
            self._server = await asyncio.start_server(self._serve, host, port)

    @property
    def address(self) -> tuple[str, int] | None:
        if self._server is None or not self._server.sockets:
            return None
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                request = await _next_request(conn, reader)
            if request is not None:
                status, body, kind = self._answer(request)
                headers = [
                    ("Content-Type", kind),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ]
                reason = HTTPStatus(status).phrase.encode()
                response = h11.Response(status_code=status, headers=headers, reason=reason)
                writer.write(conn.send(response))
                if request.method != b"HEAD":
                    writer.write(conn.send(h11.Data(data=body)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
        except h11.RemoteProtocolError as exc:
            await _bad_request(conn, writer, exc)
        except (TimeoutError, ConnectionError):
            pass
        except Exception:
            log.exception("the metrics request failed")
        finally:
            writer.close()

    def _answer(self, request: h11.Request) -> tuple[int, bytes, str]:
        path = request.target.split(b"?", 1)[0]
        if path != b"/metrics":
            return 404, b"Not found: metrics are at /metrics\n", "text/plain; charset=utf-8"
        if request.method not in (b"GET", b"HEAD"):
            return 405, b"Only GET and HEAD\n", "text/plain; charset=utf-8"
        accept = b", ".join(value for name, value in request.headers if name == b"accept")
        body, kind = self.render(accept.decode("latin-1"))
        return 200, body, kind


async def _next_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(8192))
            continue
        if isinstance(event, h11.Request):
            return event
        return None  # the client closed before a whole request


async def _bad_request(
    conn: h11.Connection, writer: asyncio.StreamWriter, exc: h11.RemoteProtocolError
) -> None:
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = f"Bad request: {exc}\n".encode()
    try:
        writer.write(
            conn.send(
                h11.Response(
                    status_code=exc.error_status_hint,
                    reason=HTTPStatus(exc.error_status_hint).phrase.encode(),
                    headers=[("Content-Length", str(len(body))), ("Connection", "close")],
                )
            )
        )
        writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
    except (h11.LocalProtocolError, ConnectionError):
        pass
