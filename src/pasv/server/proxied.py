"""Clients behind a load balancer: the PROXY header on control and data connections, trusted
only from the configured balancer addresses."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from pasv.config import ProxySection
from pasv.protocol import proxyheader
from pasv.protocol.proxyheader import ProxyHeader, ProxyHeaderError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class NotABalancer(ProxyHeaderError):
    """A PROXY header from an address that is not a configured balancer."""


class Balancers:
    """The configured balancers ([proxy] trusted) and how their connections are read."""

    def __init__(self, settings: ProxySection) -> None:
        self.networks = settings.trusted
        self.header_timeout = settings.header_timeout
        self.data_header = settings.data_header

    def trusts(self, ip: str) -> bool:
        """Whether ``ip`` (as a socket reports it) is one of the balancers."""
        try:
            address: Address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address.version == net.version and address in net for net in self.networks)

    def reader(self, ip: str) -> HeaderReader:
        """How the first bytes of a control connection from ``ip`` are read."""
        return HeaderReader(required=self.trusts(ip))


class HeaderReader:
    """The first bytes of a control connection: the header a balancer must send, or, from any
    other address, a check that no header is sent (a client must not choose its own address)."""

    __slots__ = ("buffer", "required")

    def __init__(self, *, required: bool) -> None:
        self.required = required
        self.buffer = b""

    def feed(self, data: bytes) -> tuple[ProxyHeader | None, bytes] | None:
        """(the header, or None when there is none to read; the bytes after it), or None while
        more bytes are needed. Raises ProxyHeaderError (NotABalancer from other addresses)."""
        data = self.buffer + data
        if self.required:
            header = proxyheader.parse(data)
            if header is None:
                self.buffer = data
                return None
            return header, data[header.length :]
        if proxyheader.could_be_header(data):
            if data.startswith(proxyheader.V1_PREFIX) or data.startswith(proxyheader.V2_SIGNATURE):
                raise NotABalancer("a PROXY header from an address that is not a trusted balancer")
            self.buffer = data  # a first line that may still turn out to be one
            return None
        return None, data


@dataclass(frozen=True, slots=True)
class DataOrigin:
    """Who may open a passive data connection when balancers are configured: the session's
    client directly, or a balancer whose header names that client; without data headers
    ([proxy] data_header = false), the balancer ``via`` which the control connection came."""

    balancers: Balancers
    via: str | None


async def read_data_header(sock: socket.socket, timeout: float) -> ProxyHeader:
    """The PROXY header at the start of a data connection, read without taking one byte of the
    data behind it. Raises ProxyHeaderError or TimeoutError."""
    loop = asyncio.get_running_loop()
    taken = b""
    async with asyncio.timeout(timeout):
        while True:
            await _readable(loop, sock)
            try:
                peeked = sock.recv(proxyheader.MAX_LENGTH, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                continue
            if not peeked:
                raise ProxyHeaderError("the connection closed before its PROXY header ended")
            header = proxyheader.parse(taken + peeked)
            if header is None:  # all of it is header: take it and wait for the rest
                taken += _take(sock, len(peeked))
                continue
            _take(sock, header.length - len(taken))
            return header


def _take(sock: socket.socket, count: int) -> bytes:
    """Read ``count`` bytes known to be in the socket's buffer (they were peeked)."""
    parts = []
    while count > 0:
        part = sock.recv(count)
        if not part:
            raise ProxyHeaderError("the connection closed in its PROXY header")
        parts.append(part)
        count -= len(part)
    return b"".join(parts)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    ready: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
