"""Decode 227/229 replies and PORT/EPRT commands, with the arithmetic and what the address means."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from pasv.diagnostics.knowledge import Lang, knowledge
from pasv.protocol.addresses import parse_227, parse_229, parse_eprt_argument, parse_port_argument
from pasv.protocol.errors import FtpError

Side = Literal["server", "client"]
Category = Literal[
    "unspecified", "loopback", "link_local", "shared", "reserved", "private", "public"
]

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_RESERVED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "198.18.0.0/15",
        "240.0.0.0/4",
        "2001:db8::/32",
    )
)
_PORT_COMMAND = re.compile(r"\b(PORT|EPRT)\s+(\S+)", re.IGNORECASE)


def classify_address(host: str) -> Category:
    """What kind of address ``host`` is, as far as reaching it across NAT is concerned."""
    ip = ipaddress.ip_address(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link_local"
    if ip.version == 4 and ip in _SHARED:
        return "shared"
    if any(ip.version == n.version and ip in n for n in _RESERVED):
        return "reserved"
    if ip.is_private:
        return "private"
    return "public" if ip.is_global else "reserved"


@dataclass(frozen=True, slots=True)
class AddressDecoding:
    """A decoded data-connection address: who listens where, and what that implies."""

    form: Literal["227", "229", "PORT", "EPRT"]
    port: int
    host: str | None = None  # None for 229: the control connection's address

    @property
    def side(self) -> Side:
        return "server" if self.form in ("227", "229") else "client"

    @property
    def category(self) -> Category | None:
        return classify_address(self.host) if self.host else None

    def lines(self, lang: Lang) -> list[str]:
        """The decoding with its arithmetic, then what the address means for NAT."""
        kb = knowledge()
        p1, p2 = divmod(self.port, 256)
        values = {"host": self.host, "port": self.port, "p1": p1, "p2": p2}
        if self.form == "229":
            return [kb.note(lang, "passive_229", port=self.port)]
        if self.form == "EPRT":
            version = ipaddress.ip_address(self.host or "").version
            out = [kb.note(lang, "active_eprt", version=version, **values)]
        else:
            key = "passive_227" if self.form == "227" else "active_port"
            out = [kb.note(lang, key, **values)]
        out.append(kb.note(lang, f"{self.side}_{self.category}", **values))
        if self.side == "client":
            if self.port < 1024:
                out.append(kb.note(lang, "client_low_port", port=self.port))
            out.append(kb.note(lang, "client_other_host"))
        return out


def decode_reply(code: int, text: str) -> AddressDecoding | None:
    """Decode a 227 or 229 reply text; None for other codes or when no address is in it."""
    try:
        if code == 227:
            host, port = parse_227(text)
            return AddressDecoding("227", port, host)
        if code == 229:
            return AddressDecoding("229", parse_229(text))
    except FtpError:
        return None
    return None


def decode_command(line: str) -> AddressDecoding | None:
    """Decode a "PORT h1,h2,h3,h4,p1,p2" or "EPRT |proto|host|port|" command line."""
    m = _PORT_COMMAND.search(line)
    if m is None:
        return None
    verb, arg = m.group(1).upper(), m.group(2)
    try:
        if verb == "PORT":
            host, port = parse_port_argument(arg)
            return AddressDecoding("PORT", port, host)
        host, port = parse_eprt_argument(arg)
        return AddressDecoding("EPRT", port, host)
    except FtpError:
        return None
