"""Data connections: passive port pool, PASV/EPSV listeners, PORT/EPRT connects, and guards."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import os
import random
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

from pasv.protocol.errors import ArgumentError, DataConnectionFailed
from pasv.protocol.proxyheader import ProxyHeaderError
from pasv.server.language import say
from pasv.server.proxied import DataOrigin, read_data_header
from pasv.server.watch import Watch

log = logging.getLogger("pasv.data")

SOCKET_BUFFER = 4 * 1024 * 1024


class DataChannel(Protocol):
    """A prepared data connection: PASV/EPSV (we listen) or PORT/EPRT (we connect)."""

    description: str
    # A TLS handshake the client began before its transfer command (see PassiveChannel),
    # handed over by ``connect``; None when the client waits for the 150 reply (most do).
    early_tls: asyncio.Task[ssl.SSLSocket] | None

    async def connect(self, timeout: float) -> socket.socket: ...

    def close(self) -> None: ...


def address_family(ip: str) -> socket.AddressFamily:
    """The socket family of an address in text form."""
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


class PassivePortPool:
    """Hands out ports of the configured range; no two sessions hold the same port at once."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.in_use: set[int] = set()
        self._next = random.randint(low, high)
        self._watch: Watch | None = None

    def watcher(self, loop: asyncio.AbstractEventLoop | None = None) -> Watch:
        """The epoll set of ``loop`` (by default the running one), made on first use."""
        if loop is None:  # on Python 3.11 asking costs a getpid() system call
            loop = asyncio.get_running_loop()
        watch = self._watch
        if watch is None or watch.loop is not loop:
            if watch is not None:
                watch.close()
            watch = self._watch = Watch(loop)
        return watch

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def open(self, bind_ip: str) -> tuple[socket.socket, int]:
        """A listening socket on a free port of the range (other processes' ports are skipped)."""
        family = address_family(bind_ip)
        size = self.high - self.low + 1
        for _ in range(size):
            port = self._next
            self._next = self.low if port >= self.high else port + 1
            if port in self.in_use:
                continue
            # non-blocking from the start (one system call fewer than setblocking afterwards)
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            # Linux still refuses a second *listener* on the port; this only skips TIME_WAIT
            # leftovers.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind_ip, port))
                sock.listen(8)
            except OSError as exc:
                sock.close()
                if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                    continue
                raise DataConnectionFailed(
                    say("datachannel.can_t_open_a", bind_ip=bind_ip, strerror=exc.strerror),
                    kind="passive_bind",
                ) from None
            self.in_use.add(port)
            return sock, port
        raise DataConnectionFailed(
            say("datachannel.can_t_open_data", size=size, low=self.low, high=self.high),
            kind="ports_exhausted",
        )

    def release(self, port: int) -> None:
        self.in_use.discard(port)


def tune(sock: socket.socket) -> None:
    """A large receive buffer, set when an upload starts (a download would spend a system call
    on it). The send buffer is left to the kernel's autotuning: a fixed 4 MiB one made 200
    concurrent downloads 10-15% slower on the bench."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)


def same_host(a: str, b: str) -> bool:
    """Compare addresses, treating ``::ffff:1.2.3.4`` as ``1.2.3.4``."""
    if a == b:
        return True
    try:
        ia, ib = ipaddress.ip_address(a.split("%")[0]), ipaddress.ip_address(b.split("%")[0])
    except ValueError:
        return False
    if isinstance(ia, ipaddress.IPv6Address) and ia.ipv4_mapped:
        ia = ia.ipv4_mapped
    if isinstance(ib, ipaddress.IPv6Address) and ib.ipv4_mapped:
        ib = ib.ipv4_mapped
    return ia == ib


def _retrieve(task: asyncio.Future[ssl.SSLSocket]) -> None:
    if not task.cancelled():
        task.exception()


class PassiveChannel:
    """PASV/EPSV: we listen; only a connection from the control peer's address is accepted.

    Connections are accepted as soon as they arrive (not when the transfer command comes), so a
    RETR or LIST usually finds its data connection ready and answers at once. One from any other
    address is closed and logged, and the listener keeps waiting (data-connection theft).

    Under PROT P, ``secure`` is the data connection's TLS handshake. A client that speaks first
    (aioftp sends its ClientHello as soon as it connects, and only then the transfer command)
    gets that handshake at once; the others get it after the 150 reply, as usual.
    """

    def __init__(
        self,
        pool: PassivePortPool,
        bind_ip: str,
        peer_ip: str,
        secure: Callable[[socket.socket], Awaitable[ssl.SSLSocket]] | None = None,
        origin: DataOrigin | None = None,
        foreign: Callable[[], None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.pool = pool
        self.peer_ip = peer_ip
        self.origin = origin  # behind a balancer: who may connect, and with which header
        self._foreign = foreign  # told of each connection refused for coming from elsewhere
        self._vetting: set[asyncio.Task[None]] = set()
        self._secure = secure
        self._early: asyncio.Task[ssl.SSLSocket] | None = None
        self.early_tls: asyncio.Task[ssl.SSLSocket] | None = None
        self.sock, self.port = pool.open(bind_ip)
        self._family = address_family(bind_ip)
        self.description = f"passive, port {self.port}"
        self._watch = pool.watcher(loop)
        self._loop = self._watch.loop
        self._ready: asyncio.Future[socket.socket] = self._loop.create_future()
        self._watch.watch(self.sock.fileno(), self)

    def ready(self, events: int) -> None:
        """The listener is ready (``Watch``): take the connections waiting on it."""
        while not self._ready.done():
            try:
                fd, address = self.sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: say so at the transfer
                self._stop_listening()
                self._ready.set_exception(
                    DataConnectionFailed(
                        say("datachannel.can_t_accept_the", strerror=exc.strerror), kind="accept"
                    )
                )
                return
            # socket.accept() would ask the listener for its family and type, each an enum
            # conversion; both are known
            conn = socket.socket(self._family, socket.SOCK_STREAM, 0, fd)
            origin = self.origin
            if origin is not None and origin.balancers.trusts(address[0]):
                self._from_balancer(conn, address[0], origin)
                continue
            if not same_host(address[0], self.peer_ip):
                self._refuse(conn, address[0], f"the control connection is from {self.peer_ip}")
                continue
            self._deliver(conn)

    def _deliver(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        self._stop_listening()
        self._ready.set_result(conn)
        if self._secure is not None:
            self._loop.add_reader(conn.fileno(), self._client_spoke_first, conn)

    def _refuse(self, conn: socket.socket, source: str, why: str) -> None:
        log.warning("refused data connection to port %d from %s: %s", self.port, source, why)
        conn.close()
        if self._foreign is not None:
            self._foreign()

    def _from_balancer(self, conn: socket.socket, balancer: str, origin: DataOrigin) -> None:
        """A data connection a balancer forwards: its header must name the control connection's
        client (or, without data headers, it must come through the same balancer)."""
        if not origin.balancers.data_header:
            if origin.via is not None and same_host(balancer, origin.via):
                self._deliver(conn)
            else:
                self._refuse(conn, balancer, f"the control connection came via {origin.via}")
            return
        conn.setblocking(False)
        task = self._loop.create_task(self._vet(conn, balancer, origin.balancers.header_timeout))
        self._vetting.add(task)
        task.add_done_callback(self._vetting.discard)

    async def _vet(self, conn: socket.socket, balancer: str, timeout: float) -> None:
        try:
            header = await read_data_header(conn, timeout)
        except TimeoutError:
            self._refuse(conn, balancer, f"no PROXY header within {timeout:g} seconds")
            return
        except (ProxyHeaderError, OSError) as exc:
            self._refuse(conn, balancer, f"bad PROXY header: {exc}")
            return
        except asyncio.CancelledError:
            conn.close()
            raise
        client = header.source[0] if header.source is not None else "no address"
        if header.source is None or not same_host(client, self.peer_ip):
            why = f"its PROXY header names {client}, the control connection is from {self.peer_ip}"
            self._refuse(conn, balancer, why)
        elif self._ready.done():
            conn.close()
        else:
            self._deliver(conn)

    def _client_spoke_first(self, conn: socket.socket) -> None:
        self._loop.remove_reader(conn.fileno())
        if self._secure is not None and self._early is None:
            self._early = asyncio.ensure_future(self._secure(conn))
            self._early.add_done_callback(_retrieve)  # a failure is reported at the transfer

    async def connect(self, timeout: float) -> socket.socket:
        ready = self._ready
        try:
            if ready.done():  # the usual case: the client connected before its command came
                conn = ready.result()
            else:
                async with asyncio.timeout(timeout):
                    conn = await asyncio.shield(ready)
        except TimeoutError:
            raise DataConnectionFailed(
                say("datachannel.can_t_open_data_2", port=self.port, timeout=timeout),
                kind="passive_timeout",
            ) from None
        self._ready = self._loop.create_future()  # handed over: close() must not close it
        if self._secure is not None and self._early is None:
            self._loop.remove_reader(conn.fileno())  # the command came first: TLS after 150
        self.early_tls, self._early = self._early, None
        return conn

    def _stop_listening(self) -> None:
        if self.sock.fileno() >= 0:
            self._watch.forget(self.sock.fileno())
            self.sock.close()
            self.pool.release(self.port)

    def close(self) -> None:
        self._stop_listening()
        for task in list(self._vetting):
            task.cancel()
        early = self._early
        if early is not None:
            self._early = None
            if not early.done():
                early.cancel()  # closes its TLS socket, and with it the connection
            elif not early.cancelled() and early.exception() is None:
                early.result().close()  # the handshake finished, and nobody used it
        ready = self._ready
        if ready.done() and not ready.cancelled() and ready.exception() is None:
            conn = ready.result()  # accepted but never used
            if conn.fileno() >= 0:
                self._loop.remove_reader(conn.fileno())
            conn.close()
        elif not ready.done():
            ready.cancel()


class ActiveChannel:
    """PORT/EPRT: we connect to the client, from the control connection's local address."""

    def __init__(self, host: str, port: int, local_ip: str) -> None:
        self.host, self.port, self.local_ip = host, port, local_ip
        self.description = f"active, to {host} port {port}"
        self.early_tls: asyncio.Task[ssl.SSLSocket] | None = None  # we connect: we speak first

    async def connect(self, timeout: float) -> socket.socket:
        loop = asyncio.get_running_loop()
        family = address_family(self.host)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if (":" in self.local_ip) == (family == socket.AF_INET6):
                sock.bind((self.local_ip, 0))
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, (self.host, self.port))
        except TimeoutError:
            sock.close()
            raise DataConnectionFailed(
                say(
                    "datachannel.can_t_open_data_3", host=self.host, port=self.port, timeout=timeout
                ),
                kind="active_timeout",
            ) from None
        except OSError as exc:
            sock.close()
            # asyncio's strerror is "Connect call failed ('::1', 5000, 0, 0)": the errno's own
            # words say what happened
            reason = os.strerror(exc.errno) if exc.errno else exc.strerror
            raise DataConnectionFailed(
                say(
                    "datachannel.can_t_open_data_4",
                    host=self.host,
                    port=self.port,
                    strerror=reason,
                ),
                kind="active_refused",
            ) from None
        except asyncio.CancelledError:  # ABOR while connecting
            sock.close()
            raise
        return sock

    def close(self) -> None:
        return None


def check_active_target(verb: str, host: str, port: int, peer_ip: str) -> None:
    """Refuse PORT/EPRT (``verb``) to a third party or to a privileged port (the FTP bounce
    attack)."""

    if not same_host(host, peer_ip):
        raise ArgumentError(
            say("datachannel.rejected_port_to_host", verb=verb, host=host, peer_ip=peer_ip)
        )
    if port < 1024:
        raise ArgumentError(say("datachannel.rejected_port_to_port", verb=verb, port=port))


def announced_address(
    peer_ip: str,
    local_ip: str,
    masquerade: ipaddress.IPv4Address | None,
    overrides: tuple[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ipaddress.IPv4Address], ...
    ],
) -> str:
    """The IPv4 address a 227 reply names for this client."""
    if overrides:  # the client's address is parsed only when a rule may pick it out
        try:
            client = ipaddress.ip_address(peer_ip)
        except ValueError:
            client = None
        if client is not None:
            for network, address in overrides:
                if client.version == network.version and client in network:
                    return str(address)
    if masquerade is not None:
        return str(masquerade)
    return local_ip
