"""The client of an admin request as the FTP server names its peers: an IPv4 client of a
dual-stack listener (``::ffff:192.0.2.1``) by its IPv4 address, for the login throttle, the
audit log and the trusted-proxy check alike."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from pasv.policy.models import IpNetwork
from pasv.policy.network import parse_ip


def unmapped(host: str) -> str:
    """``host`` in the form the FTP server gives its peers (IPv4-mapped as IPv4, no zone);
    anything that is not an IP address as it is."""
    ip = parse_ip(host)
    return host if ip is None else str(ip)


def proxy_hosts(trusted: Sequence[IpNetwork]) -> list[str]:
    """uvicorn's forwarded_allow_ips for ``trusted``: each IPv4 network also as the IPv6
    addresses that map it (uvicorn compares the peer and X-Forwarded-For as written, and a
    dual-stack listener shows an IPv4 proxy as ``::ffff:a.b.c.d``)."""
    hosts = [str(net) for net in trusted]
    for net in trusted:
        if isinstance(net, ipaddress.IPv4Network):
            hosts.append(f"::ffff:{net.network_address}/{96 + net.prefixlen}")
    return hosts


class UnmappedClient:
    """ASGI middleware: the request's client address (after uvicorn took a trusted proxy's
    X-Forwarded-For) put in the FTP server's form (``unmapped``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        client = scope.get("client")
        if scope["type"] == "http" and client:
            scope["client"] = (unmapped(client[0]), client[1])
        await self.app(scope, receive, send)
