"""The PROXY protocol header (HAProxy's, versions 1 and 2): bytes in, the client's address out."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX = 107  # the specification's longest v1 line, CRLF included
# A v2 header may carry up to 64 KiB of TLVs; pasv skips them and refuses a header longer than
# this, so a connection waiting for its header holds a few KiB at most.
MAX_LENGTH = 4096

_V2_FIXED = 16
_INET, _INET6, _UNIX = 0x1, 0x2, 0x3
_ADDRESS_SIZE = {_INET: 12, _INET6: 36, _UNIX: 216}


class ProxyHeaderError(ValueError):
    """A header that breaks the specification; the text says how."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """What a balancer said about the connection it forwards.

    ``source`` is None for a connection the balancer made itself (v2 LOCAL, v1 UNKNOWN, an
    unspecified address family): then the connection's own address stands.
    """

    version: int
    length: int  # bytes the header took on the wire
    source: tuple[str, int] | None
    destination: tuple[str, int] | None


def could_be_header(data: bytes) -> bool:
    """Whether ``data`` (the first bytes of a connection) starts like a PROXY header."""
    size = min(len(data), len(V2_SIGNATURE))
    if size and data[:size] == V2_SIGNATURE[:size]:
        return True
    size = min(len(data), len(V1_PREFIX))
    return bool(size) and data[:size] == V1_PREFIX[:size]


def parse(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; None while more bytes are needed.

    Every byte of an incomplete header belongs to the header, so a reader that must not read
    past it may consume all it has until this returns a value, then exactly up to its ``length``.
    """
    if not data:
        return None
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    if data[0] == V1_PREFIX[0]:
        return _parse_v1(data)
    raise ProxyHeaderError("the connection does not start with a PROXY protocol header")


def _parse_v1(data: bytes) -> ProxyHeader | None:
    if data[: len(V1_PREFIX)] != V1_PREFIX[: len(data)]:
        raise ProxyHeaderError("a v1 header starts with 'PROXY '")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX or b"\n" in data[:V1_MAX]:
            raise ProxyHeaderError(f"a v1 header is one line of at most {V1_MAX} bytes ending CRLF")
        return None
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise ProxyHeaderError("a v1 header is ASCII text") from None
    fields = line.split(" ")
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return ProxyHeader(1, end + 2, None, None)  # the rest of the line is ignored
    if len(fields) != 6:
        raise ProxyHeaderError(
            "a v1 header is 'PROXY TCP4|TCP6|UNKNOWN source destination sport dport'"
        )
    _, proto, src, dst, sport, dport = fields
    if proto not in ("TCP4", "TCP6"):
        raise ProxyHeaderError(f"unknown v1 protocol {proto[:10]!r} (TCP4, TCP6 or UNKNOWN)")
    version = 4 if proto == "TCP4" else 6
    source = (_v1_address(src, version), _v1_port(sport))
    destination = (_v1_address(dst, version), _v1_port(dport))
    return ProxyHeader(1, end + 2, source, destination)


def _v1_address(text: str, version: int) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError(f"{text[:45]!r} is not an IPv{version} address") from None
    if address.version != version:
        raise ProxyHeaderError(f"{text[:45]!r} is not an IPv{version} address")
    return str(address)


def _v1_port(text: str) -> int:
    if not text.isdigit() or len(text) > 5 or (len(text) > 1 and text[0] == "0"):
        raise ProxyHeaderError(f"{text[:10]!r} is not a port number")
    port = int(text)
    if port > 65535:
        raise ProxyHeaderError(f"{text!r} is not a port number")
    return port


def _parse_v2(data: bytes) -> ProxyHeader | None:
    size = min(len(data), len(V2_SIGNATURE))
    if data[:size] != V2_SIGNATURE[:size]:
        raise ProxyHeaderError("the v2 signature is wrong")
    if len(data) < _V2_FIXED:
        return None
    version, command = data[12] >> 4, data[12] & 0x0F
    family, transport = data[13] >> 4, data[13] & 0x0F
    (body,) = struct.unpack_from("!H", data, 14)
    if version != 2:
        raise ProxyHeaderError(f"unknown PROXY protocol version {version}")
    if command not in (0, 1):
        raise ProxyHeaderError(f"unknown v2 command {command} (0 LOCAL, 1 PROXY)")
    total = _V2_FIXED + body
    if total > MAX_LENGTH:
        raise ProxyHeaderError(f"a {total}-byte header is longer than the {MAX_LENGTH} accepted")
    if family > _UNIX or transport > 2:
        raise ProxyHeaderError(f"unknown v2 address family/transport byte 0x{data[13]:02x}")
    if body < _ADDRESS_SIZE.get(family, 0):
        raise ProxyHeaderError(f"a v2 header of family {family} needs a longer address block")
    if len(data) < total:
        return None
    if command == 0 or family == 0:  # LOCAL (the balancer's own check), or no address given
        return ProxyHeader(2, total, None, None)
    if family == _UNIX or transport != 1:
        raise ProxyHeaderError("the v2 header is not for a TCP connection (TCP over IPv4/IPv6)")
    kind, size = (ipaddress.IPv4Address, 4) if family == _INET else (ipaddress.IPv6Address, 16)
    src, dst, sport, dport = struct.unpack_from(f"!{size}s{size}sHH", data, _V2_FIXED)
    source = (str(kind(src)), sport)
    return ProxyHeader(2, total, source, (str(kind(dst)), dport))  # the TLVs are skipped


def encode_v1(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """A v1 header (for tests and the health check)."""
    proto = "TCP6" if ":" in source[0] else "TCP4"
    return f"PROXY {proto} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n".encode()


def encode_v2(
    source: tuple[str, int] | None,
    destination: tuple[str, int] | None = None,
    tlvs: bytes = b"",
) -> bytes:
    """A v2 header: PROXY for ``source`` (TCP over IPv4/IPv6), or LOCAL when it is None."""
    if source is None:
        return V2_SIGNATURE + struct.pack("!BBH", 0x20, 0x00, len(tlvs)) + tlvs
    dest = destination or (("::" if ":" in source[0] else "0.0.0.0"), 0)
    src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(dest[0])
    block = src.packed + dst.packed + struct.pack("!HH", source[1], dest[1])
    family = _INET if src.version == 4 else _INET6
    head = struct.pack("!BBH", 0x21, (family << 4) | 1, len(block) + len(tlvs))
    return V2_SIGNATURE + head + block + tlvs
