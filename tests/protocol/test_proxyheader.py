"""PROXY protocol headers (HAProxy's v1 text and v2 binary), without sockets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.proxyheader import (
    MAX_LENGTH,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    could_be_header,
    encode_v1,
    encode_v2,
    parse,
)


def test_v1_tcp4() -> None:
    data = b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 21\r\nUSER alice\r\n"
    header = parse(data)
    assert header == ProxyHeader(1, 45, ("192.0.2.10", 56324), ("198.51.100.1", 21))
    assert data[header.length :] == b"USER alice\r\n"


def test_v1_tcp6_is_normalised() -> None:
    header = parse(b"PROXY TCP6 2001:DB8:0::7 2001:db8::1 65535 0\r\n")
    assert header is not None
    assert header.source == ("2001:db8::7", 65535) and header.destination == ("2001:db8::1", 0)


def test_v1_unknown_ignores_the_rest_of_the_line() -> None:
    assert parse(b"PROXY UNKNOWN anything at all\r\n") == ProxyHeader(1, 31, None, None)
    assert parse(b"PROXY UNKNOWN\r\n") == ProxyHeader(1, 15, None, None)


def test_v2_ipv4_with_tlvs_skipped() -> None:
    tlvs = b"\x01\x00\x02h2" + b"\x04\x00\x05abcde"  # ALPN, NOOP
    data = encode_v2(("192.0.2.10", 56324), ("198.51.100.1", 21), tlvs) + b"rest"
    header = parse(data)
    assert header == ProxyHeader(
        2, 16 + 12 + len(tlvs), ("192.0.2.10", 56324), ("198.51.100.1", 21)
    )
    assert data[header.length :] == b"rest"


def test_v2_ipv6() -> None:
    header = parse(encode_v2(("2001:db8::7", 1), ("2001:db8::1", 21)))
    assert header == ProxyHeader(2, 52, ("2001:db8::7", 1), ("2001:db8::1", 21))


def test_v2_local_has_no_address_even_with_one_given() -> None:
    assert parse(encode_v2(None)) == ProxyHeader(2, 16, None, None)
    local = V2_SIGNATURE + b"\x20\x11\x00\x0c" + bytes(12)  # LOCAL with an IPv4 block: ignored
    assert parse(local) == ProxyHeader(2, 28, None, None)


def test_v2_unspecified_family_is_like_local() -> None:
    assert parse(V2_SIGNATURE + b"\x21\x00\x00\x03abc") == ProxyHeader(2, 19, None, None)


@pytest.mark.parametrize(
    "data",
    [
        b"PROXY TCP4 192.0.2.10 198.51.100.1 56324 21\r\n",
        encode_v2(("192.0.2.10", 56324), ("198.51.100.1", 21), b"\x04\x00\x01x"),
        encode_v2(("2001:db8::7", 1), ("2001:db8::1", 21)),
    ],
)
def test_every_prefix_asks_for_more(data: bytes) -> None:
    for end in range(len(data)):
        assert parse(data[:end]) is None, end
    assert parse(data) is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"USER alice\r\n", "does not start with a PROXY"),
        (b"PROXY\tTCP4", "starts with 'PROXY '"),
        (b"PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", "unknown v1 protocol"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "is 'PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n", "is 'PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n", "is 'PROXY TCP4|TCP6|UNKNOWN"),
        (b"PROXY TCP4 192.0.2.300 192.0.2.2 1 2\r\n", "not an IPv4 address"),
        (b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", "not an IPv4 address"),
        (b"PROXY TCP6 192.0.2.1 2001:db8::1 1 2\r\n", "not an IPv6 address"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "not a port number"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 021 2\r\n", "not a port number"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n", "not a port number"),
        (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "ending CRLF"),
        (b"PROXY TCP4 " + b"9" * 200, "at most 107 bytes"),
        ("PROXY TCP4 192.0.2.1 192.0.2.2 1 2é\r\n".encode(), "ASCII"),
        (b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + bytes(12), "signature is wrong"),
        (V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12), "unknown PROXY protocol version 1"),
        (V2_SIGNATURE + b"\x2f\x11\x00\x0c" + bytes(12), "unknown v2 command 15"),
        (V2_SIGNATURE + b"\x21\x41\x00\x0c" + bytes(12), "address family/transport"),
        (V2_SIGNATURE + b"\x21\x13\x00\x0c" + bytes(12), "address family/transport"),
        (V2_SIGNATURE + b"\x21\x11\x00\x0b" + bytes(11), "needs a longer address block"),
        (V2_SIGNATURE + b"\x21\x21\x00\x0c" + bytes(12), "needs a longer address block"),
        (V2_SIGNATURE + b"\x21\x12\x00\x0c" + bytes(12), "not for a TCP connection"),
        (V2_SIGNATURE + b"\x21\x31\x00\xd8" + bytes(216), "not for a TCP connection"),
        (V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", MAX_LENGTH), "longer than the 4096"),
    ],
)
def test_malformed(data: bytes, message: str) -> None:
    with pytest.raises(ProxyHeaderError, match=message):
        parse(data)


def test_an_oversized_header_is_refused_before_it_arrives() -> None:
    """The length field alone refuses it: nothing of the body needs to be held."""
    with pytest.raises(ProxyHeaderError, match="longer than"):
        parse(V2_SIGNATURE + b"\x21\x11\xff\xff")


def test_could_be_header() -> None:
    for text in (b"P", b"PROX", b"PROXY ", b"PROXY TCP4", b"\r\n\r", V2_SIGNATURE + b"\x21"):
        assert could_be_header(text), text
    for text in (b"", b"PROT P\r\n", b"PWD\r\n", b"PROXY\r\n", b"\r\nUSER", b"USER x\r\n"):
        assert not could_be_header(text), text


_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_port = st.integers(0, 65535)


@given(st.one_of(st.tuples(_ipv4, _ipv4), st.tuples(_ipv6, _ipv6)), _port, _port)
def test_v1_round_trip(addresses: tuple[str, str], sport: int, dport: int) -> None:
    src, dst = addresses
    header = parse(encode_v1((src, sport), (dst, dport)))
    assert header is not None and header.source == (src, sport)
    assert header.destination == (dst, dport)


@given(
    st.one_of(st.tuples(_ipv4, _ipv4), st.tuples(_ipv6, _ipv6)),
    _port,
    _port,
    st.binary(max_size=200),
)
def test_v2_round_trip(addresses: tuple[str, str], sport: int, dport: int, tlvs: bytes) -> None:
    src, dst = addresses
    data = encode_v2((src, sport), (dst, dport), tlvs)
    header = parse(data + b"after")
    assert header is not None and header.length == len(data)
    assert header.source == (src, sport) and header.destination == (dst, dport)


_tails = st.binary(max_size=300)


@given(
    st.one_of(
        _tails,
        _tails.map(lambda tail: V2_SIGNATURE + tail),
        _tails.map(lambda tail: b"PROXY " + tail),
    )
)
def test_any_bytes_give_a_header_none_or_a_proxy_header_error(data: bytes) -> None:
    try:
        header = parse(data)
    except ProxyHeaderError:
        return
    assert header is None or header.length <= len(data)
