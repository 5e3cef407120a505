"""PORT/EPRT arguments and 227/229 reply texts: encoding and decoding (RFC 959, RFC 2428)."""

from __future__ import annotations

import functools
import ipaddress
import re

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, ParameterNotImplemented
from pasv.protocol.texts import said

__all__ = [
    "format_227",
    "format_229",
    "format_eprt_argument",
    "format_port_argument",
    "parse_227",
    "parse_229",
    "parse_eprt_argument",
    "parse_port_argument",
]

_SIX_NUMBERS = re.compile(r"(?<![0-9])" + r"\s*,\s*".join([r"([0-9]{1,3})"] * 6) + r"(?![0-9])")
_EPSV = re.compile(r"\(([!-/:-~])\1\1([0-9]{1,5})\1\)")
_EPSV_BARE = re.compile(r"([!-/:-~])\1\1([0-9]{1,5})\1")


def _check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ArgumentError(
            said(
                "replies",
                "addresses.port_range",
                "Port {port} is out of range (1-65535).",
                port=port,
            )
        )
    return port


@functools.lru_cache(maxsize=64)  # every PASV names one of a few addresses: parse each once
def _ipv4_octets(host: str) -> tuple[int, int, int, int]:
    """The four octets of an IPv4 host (IPv4-mapped IPv6 accepted); ValueError otherwise."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            raise ValueError(f"{host} is an IPv6 address; use EPSV/EPRT")
        ip = ip.ipv4_mapped
    a, b, c, d = ip.packed
    return a, b, c, d


def _six(numbers: tuple[str, ...] | list[str]) -> tuple[str, int]:
    values = []
    for raw in numbers:
        text = raw.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 3 or int(text) > 255:
            raise ArgumentError(
                said(
                    "replies",
                    "addresses.octet",
                    "Each address number must be 0-255, got {raw!r}.",
                    raw=raw.strip(),
                )
            )
        values.append(int(text))
    host = ".".join(str(v) for v in values[:4])
    return host, _check_port(values[4] * 256 + values[5])


def parse_port_argument(arg: str) -> tuple[str, int]:
    """Decode "h1,h2,h3,h4,p1,p2" into (host, port); raise ArgumentError when malformed."""
    parts = arg.split(",")
    if len(parts) != 6:
        raise ArgumentError("PORT needs six numbers: h1,h2,h3,h4,p1,p2.")
    return _six(parts)


def format_port_argument(host: str, port: int) -> str:
    """Encode an IPv4 host and port as "h1,h2,h3,h4,p1,p2"; ValueError for IPv6 or bad port."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    octets = _ipv4_octets(host)
    return ",".join(str(n) for n in (*octets, port >> 8, port & 0xFF))


def format_227(host: str, port: int) -> str:
    """The text of a 227 reply: "Entering Passive Mode (h1,h2,h3,h4,p1,p2)."."""
    return f"Entering Passive Mode ({format_port_argument(host, port)})."


def parse_227(text: str) -> tuple[str, int]:
    """Find the first six comma-separated numbers in a 227 text; return (host, port)."""
    m = _SIX_NUMBERS.search(text)
    if m is None:
        raise ArgumentError("No h1,h2,h3,h4,p1,p2 address found in the 227 reply.")
    return _six(m.groups())


def parse_eprt_argument(arg: str) -> tuple[str, int]:
    """Decode "|1|host|port|" or "|2|host|port|" (any delimiter) into (host, port)."""
    arg = arg.strip()
    if len(arg) < 2:
        raise ArgumentError("EPRT needs <d>proto<d>address<d>port<d>.")
    delim = arg[0]
    if not ("!" <= delim <= "~") or delim.isdigit():
        raise ArgumentError(
            said(
                "replies",
                "addresses.eprt_delimiter",
                "Invalid EPRT delimiter {delim!r}.",
                delim=delim,
            )
        )
    parts = arg[1:].split(delim)
    if len(parts) != 4 or parts[3] != "":
        raise ArgumentError("EPRT needs <d>proto<d>address<d>port<d>.")
    proto, addr, port_text = parts[:3]
    if not (proto.isascii() and proto.isdigit()):
        raise ArgumentError(
            said(
                "replies",
                "addresses.eprt_protocol",
                "Invalid EPRT network protocol {proto!r}.",
                proto=proto,
            )
        )
    if proto not in ("1", "2"):
        raise ParameterNotImplemented(
            "Network protocol not supported, use (1,2)",
            code=ReplyCode.UNSUPPORTED_NETWORK_PROTOCOL,
        )
    if "%" in addr:
        raise ArgumentError("EPRT address must not carry a zone index.")
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address
        ip = ipaddress.IPv4Address(addr) if proto == "1" else ipaddress.IPv6Address(addr)
    except ValueError:
        family = "IPv4" if proto == "1" else "IPv6"
        raise ArgumentError(
            said(
                "replies",
                "addresses.eprt_address",
                "Invalid {family} address in EPRT: {addr!r}.",
                family=family,
                addr=addr,
            )
        ) from None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        raise ArgumentError(
            said("replies", "addresses.eprt_port", "Invalid EPRT port {port!r}.", port=port_text)
        )
    host = str(ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        host = f"::ffff:{ip.ipv4_mapped}"  # as written, not Python 3.11's ::ffff:102:304
    return host, _check_port(int(port_text))


def format_eprt_argument(host: str, port: int) -> str:
    """Encode "|1|a.b.c.d|port|" or "|2|v6|port|" (IPv4-mapped IPv6 is sent as IPv4)."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    proto = 1 if ip.version == 4 else 2
    return f"|{proto}|{ip}|{port}|"


def format_229(port: int) -> str:
    """The text of a 229 reply: "Entering Extended Passive Mode (|||port|)."."""
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return f"Entering Extended Passive Mode (|||{port}|)."


def parse_229(text: str) -> int:
    """The port of a 229 reply text "(<d><d><d>port<d>)" (parentheses optional)."""
    m = _EPSV.search(text) or _EPSV_BARE.search(text)
    if m is None:
        raise ArgumentError("No (|||port|) found in the 229 reply.")
    return _check_port(int(m.group(2)))
