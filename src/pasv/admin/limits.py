"""What one HTTP request to the admin listener may take: its body's size, and the time to send it.

The admin API runs in the FTP server's process (worker 0): a body read into memory without a
bound, or a connection held open by a client that never finishes its request, would cost the
FTP sessions too. Both are refused before any route (or the token check) runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_BODY = 1 << 20  # bytes; the largest request the API and console take is a few KiB
DRAINED = 8  # a body up to this many times the limit is read (and dropped) to answer 413
REQUEST_SECONDS = 10.0  # from the connection (or the last answer) to the end of the request

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 and not kept. Up to
    ``DRAINED`` times the limit is read and dropped first, so that a client that sends its
    whole body before reading gets the answer rather than a reset; beyond that the 413 goes
    out at once and the connection closes."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > DRAINED * self.limit:
            await _too_large(send, self.limit)  # not worth reading: answered, then closed
            return
        # read the body here (keeping at most limit bytes), then hand it to the app as it came
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size <= self.limit:
                messages.append(message)
            elif size > DRAINED * self.limit:
                break  # no more is read: the client may see the connection cut
            if not message.get("more_body", False):
                break
        if size > self.limit:
            await _too_large(send, self.limit)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 has refused a bad one already
    return None


async def _too_large(send: Any, limit: int) -> None:
    body = json.dumps({"error": f"the request body is larger than {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Departing(H11Protocol):
    """uvicorn's HTTP/1.1 protocol that calls ``gone``, when set, as its connection ends (the
    admission count: gate.py)."""

    gone: Callable[[], None] | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.gone is not None:
            self.gone()
        super().connection_lost(exc)


def deadline_protocol(seconds: float = REQUEST_SECONDS) -> type[Departing]:
    """uvicorn's HTTP/1.1 protocol with a deadline: a connection whose next request (headers
    and body) is not complete ``seconds`` after it opened, or after the last answer, is
    closed. uvicorn alone waits for ever for a request that has begun (slowloris)."""

    class DeadlineProtocol(Departing):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request begins
            super().data_received(data)
            if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
                self._disarm()  # all of it is in: the route takes the time it needs

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return DeadlineProtocol
