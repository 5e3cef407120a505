"""Who may open a connection to the admin listener: the cap on all of them, each address's share
of it, and the bound on a TLS handshake. The listener accepts connections itself, so that each
is counted from its accept (a TLS one during its handshake too), not once uvicorn sees it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pasv.admin.peers import unmapped
from pasv.policy.models import IpNetwork
from pasv.policy.network import in_networks

HANDSHAKE_SECONDS = 10.0  # from the accept to the end of the TLS handshake (asyncio's: 60 s)
REFUSALS = 8  # TLS connections over a limit given a handshake at once, to read why they are refused

log = logging.getLogger("pasv.admin")


class Leaving(Protocol):
    """An asyncio protocol that calls ``gone`` as its connection ends (limits.Departing)."""

    gone: Callable[[], None] | None


@dataclass
class Gate:
    """The connections of one admin listener: at most ``total`` at once, at most ``share`` from
    one address, except the ``unshared`` networks (trusted proxies: their connections carry
    many clients, whose X-Forwarded-For is not known before a request has been read)."""

    total: int = 64
    share: int = 64
    unshared: Sequence[IpNetwork] = ()
    open: int = 0
    by_address: Counter[str] = field(default_factory=Counter)
    refusing: int = 0  # over a limit, given a TLS handshake to read their answer

    def admit(self, host: str) -> bytes | None:
        """Count a connection from ``host`` in (None), or the 503 answer naming the limit it
        is over (it is not counted)."""
        if self.open >= self.total:
            return busy(
                f"the admin listener has {self.total} connections open "
                "(admin.max_connections); try again"
            )
        if self.by_address[host] >= self.share and not in_networks(host, self.unshared):
            return busy(
                f"your address {host} has {self.share} connections open to the admin listener "
                "(admin.max_connections_per_address); close one, or try again"
            )
        self.open += 1
        self.by_address[host] += 1
        return None

    def leaver(self, host: str) -> Callable[[], None]:
        """What a connection admitted from ``host`` calls as it ends (counted once)."""
        return once(lambda: self._leave(host))

    def _leave(self, host: str) -> None:
        self.open -= 1
        self.by_address[host] -= 1
        if self.by_address[host] <= 0:
            del self.by_address[host]


def once(call: Callable[[], None]) -> Callable[[], None]:
    """``call``, run by the first call only."""
    done = False

    def first() -> None:
        nonlocal done
        if not done:
            done = True
            call()

    return first


class Doorway:
    """Accepts on ``sock`` and hands each admitted connection (after its TLS handshake, with
    ``tls``) to a protocol from ``factory``. Over a limit: in clear text the 503 is written as
    the connection is accepted and it is closed; with TLS it is answered after a handshake, up to
    ``REFUSALS`` at once, and beyond that closed at once (a TLS client cannot read clear text)."""

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], Leaving],
        gate: Gate,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.sock, self.factory, self.gate, self.tls = sock, factory, gate, tls
        self._tasks: set[asyncio.Task[None]] = set()
        self._unopened: set[socket.socket] = set()  # accepted, its task not begun
        self._accepting: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._accepting = asyncio.get_running_loop().create_task(self._accept())

    async def stop(self) -> None:
        """No more accepts (the listening socket is closed); the handshakes still running end
        (the open connections are uvicorn's to close)."""
        tasks = [self._accepting, *self._tasks] if self._accepting else list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in self._unopened:
            conn.close()
        self.sock.close()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(self.sock)
            except (ConnectionAbortedError, InterruptedError):
                continue
            except OSError as exc:  # out of descriptors or memory: wait, as asyncio's servers do
                log.warning("admin listener: accept failed (%s); trying again in 1 s", exc)
                await asyncio.sleep(1)
                continue
            self._admit(conn, unmapped(str(peer[0])))

    def _admit(self, conn: socket.socket, host: str) -> None:
        refusal = self.gate.admit(host)
        if refusal is None:
            self._spawn(conn, self._open(conn, self.gate.leaver(host)))
        elif self.tls is None:
            with contextlib.suppress(OSError):
                conn.send(refusal)  # a few hundred bytes: the socket buffer takes them
            conn.close()
        elif self.gate.refusing < REFUSALS:
            self.gate.refusing += 1
            self._spawn(conn, self._refuse(conn, refusal))
        else:
            conn.close()

    def _spawn(self, conn: socket.socket, work: Any) -> None:
        self._unopened.add(conn)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, conn: socket.socket, leave: Callable[[], None]) -> None:
        def protocol() -> Leaving:
            made = self.factory()
            made.gone = leave
            return made

        await self._connect(conn, protocol, leave)

    async def _refuse(self, conn: socket.socket, answer: bytes) -> None:
        def gone() -> None:
            self.gate.refusing -= 1

        leave = once(gone)
        await self._connect(conn, lambda: _Refusal(answer, leave), leave)

    async def _connect(
        self, conn: socket.socket, protocol: Callable[[], Any], leave: Callable[[], None]
    ) -> None:
        self._unopened.discard(conn)  # the transport owns it from here
        loop = asyncio.get_running_loop()
        timeouts = (
            {"ssl_handshake_timeout": HANDSHAKE_SECONDS, "ssl_shutdown_timeout": HANDSHAKE_SECONDS}
            if self.tls is not None
            else {}
        )
        try:
            await loop.connect_accepted_socket(protocol, conn, ssl=self.tls, **timeouts)
        except Exception:  # the handshake failed, timed out, or the client left: no answer
            leave()
        except BaseException:
            leave()
            raise


class _Refusal(asyncio.Protocol):
    """A TLS connection over a limit: its answer, then the close."""

    def __init__(self, answer: bytes, gone: Callable[[], None]) -> None:
        self.answer, self.gone = answer, gone

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        transport.write(self.answer)
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone()


def busy(text: str) -> bytes:
    """The whole answer to a connection over a limit, sent before it says anything."""
    body = json.dumps({"error": text}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
