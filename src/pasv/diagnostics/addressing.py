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
_ANY_SIX = re.compile(r"(?<![0-9])([0-9]+)" + r"\s*,\s*([0-9]+)" * 5 + r"(?![0-9])")
_ANY_EPSV = re.compile(r"([!-/:-~])\1\1([0-9]*)\1")


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


@dataclass(frozen=True, slots=True)
class BadAddress:
    """A 227 or 229 whose address nobody can connect to: missing, not numbers of a byte, port
    0 or beyond 65535. The reply is broken (the server's settings, or an ALG on the way)."""

    form: Literal["227", "229"]
    problem: Literal["missing", "octet", "port", "zero"]
    values: tuple[tuple[str, object], ...] = ()

    def lines(self, lang: Lang) -> list[str]:
        kb = knowledge()
        values = dict(self.values)
        if self.problem == "zero":
            first = kb.note(lang, "bad_port_zero")
        elif self.form == "229":
            first = kb.note(lang, f"bad_229_{self.problem}", **values)
        else:
            first = kb.note(lang, f"bad_227_{self.problem}", **values)
        return [first, kb.note(lang, f"bad_fix_{self.form}")]


def bad_address(code: int, text: str) -> BadAddress | None:
    """What is wrong with the address of a 227/229 reply; None when it can be used (or for
    other codes)."""
    if code == 229:
        m = _ANY_EPSV.search(text)
        if m is None or not m.group(2):
            return BadAddress("229", "missing")
        port = int(m.group(2))
        if port == 0:
            return BadAddress("229", "zero")
        return BadAddress("229", "port", (("port", port),)) if port > 65535 else None
    if code != 227:
        return None
    m = _ANY_SIX.search(text)
    if m is None:
        return BadAddress("227", "missing")
    n = [int(g) for g in m.groups()]
    numbers = ",".join(m.groups())
    if max(n[:4]) > 255:
        host = ".".join(m.groups()[:4])
        return BadAddress("227", "octet", (("numbers", numbers), ("host", host)))
    if max(n[4:]) > 255:  # (two bytes of at most 255 make at most 65535)
        values = (("numbers", numbers), ("p1", n[4]), ("p2", n[5]), ("port", n[4] * 256 + n[5]))
        return BadAddress("227", "port", values)
    return BadAddress("227", "zero") if n[4] == n[5] == 0 else None


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
