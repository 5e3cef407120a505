"""Where to open a passive data connection: the 227 address, or the control peer (pure decision)."""

from __future__ import annotations

import ipaddress

__all__ = ["is_ipv6", "names_a_host", "passive_host"]


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_ipv6(host: str) -> bool:
    """True for an IPv6 address that is not an IPv4-mapped one (those take PORT/PASV)."""
    ip = _ip(host)
    return ip is not None and ip.version == 6


def passive_host(
    announced: str, control_peer: str, trust_routable: bool = True
) -> tuple[str, str | None]:
    """The host to connect to for a 227 reply naming ``announced``, and a note when it is not it.

    A server behind NAT that is set up wrong announces its private address (10.x, 192.168.x,
    0.0.0.0 …), which the client cannot reach. When the announced address is not globally
    routable and differs from the control connection's peer, the peer is used instead (as
    FileZilla and curl do). A routable address that differs is kept only with
    ``trust_routable`` (some servers send data from another interface on purpose); without it
    the peer is used too, so a hostile server cannot point the client at a third host (curl's
    default since 7.74, ``--ftp-skip-pasv-ip``). The client passes
    ``ClientOptions.trust_pasv_address``; the doctor reports what the reply names.
    """
    peer, named = _ip(control_peer), _ip(announced)
    if named is None or peer is None or named == peer:
        return announced, None
    if named.is_global and not named.is_unspecified:
        if trust_routable:
            return announced, None
        note = (
            f"Server sent passive reply with address {announced}, not its own; using the "
            f"server's address {control_peer} instead (--trust-pasv-address connects to it)."
        )
        return control_peer, note
    note = (
        f"Server sent passive reply with unroutable address {announced}; "
        f"using the server's address {control_peer} instead."
    )
    return control_peer, note


def names_a_host(host: str) -> bool:
    """Whether a URL's host is a DNS name (worth a HOST command), not an address literal."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return bool(host)
    return False
