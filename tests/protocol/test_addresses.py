"""Tests for PORT/EPRT arguments and 227/229 reply texts."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.addresses import (
    format_227,
    format_229,
    format_eprt_argument,
    format_port_argument,
    parse_227,
    parse_229,
    parse_eprt_argument,
    parse_port_argument,
)
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, ParameterNotImplemented


# --- the seed's examples ----------------------------------------------------------------------
def test_seed_227_example_port_3359() -> None:
    assert parse_227("Entering Passive Mode (60,165,133,154,13,31)") == ("60.165.133.154", 3359)
    assert 13 * 256 + 31 == 3359


def test_seed_227_example_port_2046() -> None:
    text = "227 Entering Passive Mode (172,16,101,104,7,254)"
    assert parse_227(text) == ("172.16.101.104", 2046)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("227 entering passive mode (60,165,133,154,13,31).", ("60.165.133.154", 3359)),
        ("227 entering passive mode (218,3,87,224,10,232)", ("218.3.87.224", 2792)),
        ("227 Entering Passive Mode (172,16,101,104,8,86)", ("172.16.101.104", 2134)),
        ("Entering Passive Mode 10,0,0,1,4,1", ("10.0.0.1", 1025)),
        ("=10,0,0,1,4,1", ("10.0.0.1", 1025)),
        ("227 Passive (10, 0, 0, 1, 4, 1) ok", ("10.0.0.1", 1025)),
        ("227 port 2121 then (10,0,0,1,4,1)", ("10.0.0.1", 1025)),
    ],
)
def test_parse_227_variants(text: str, expected: tuple[str, int]) -> None:
    assert parse_227(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "227 Entering Passive Mode",
        "227 (1,2,3,4,5)",
        "227 (256,0,0,1,4,1)",
        "227 (10,0,0,1,256,1)",
        "227 (10,0,0,1,0,0)",
        "",
    ],
)
def test_parse_227_bad(text: str) -> None:
    with pytest.raises(ArgumentError):
        parse_227(text)


def test_format_227() -> None:
    assert format_227("60.165.133.154", 3359) == "Entering Passive Mode (60,165,133,154,13,31)."
    assert format_227("::ffff:127.0.0.1", 2046) == "Entering Passive Mode (127,0,0,1,7,254)."


@pytest.mark.parametrize(("host", "port"), [("::1", 21), ("2001:db8::1", 21), ("1.2.3.4", 0)])
def test_format_227_refuses_ipv6_and_bad_port(host: str, port: int) -> None:
    with pytest.raises(ValueError):
        format_227(host, port)


# --- PORT -------------------------------------------------------------------------------------
def test_parse_port_argument() -> None:
    assert parse_port_argument("172,16,101,104,8,76") == ("172.16.101.104", 2124)
    assert parse_port_argument(" 60, 165 ,133,154,13 , 31 ") == ("60.165.133.154", 3359)
    assert parse_port_argument("10,0,0,1,255,255") == ("10.0.0.1", 65535)
    assert parse_port_argument("010,000,000,001,0,1") == ("10.0.0.1", 1)


@pytest.mark.parametrize(
    "arg",
    [
        "",
        "1,2,3,4,5",
        "1,2,3,4,5,6,7",
        "1,2,3,256,5,6",
        "1,2,3,-4,5,6",
        "1,2,3,4,a,6",
        "1,2,3,4,,6",
        "1,2,3,4,0,0",
        "1.2.3.4,5,6",
        "1,2,3,4,0001,6",
        "１,2,3,4,5,6",
        "1,2,3,4,5,6 7",
    ],
)
def test_parse_port_argument_bad(arg: str) -> None:
    with pytest.raises(ArgumentError) as info:
        parse_port_argument(arg)
    assert info.value.code == ReplyCode.ARGUMENT_ERROR


def test_format_port_argument() -> None:
    assert format_port_argument("172.16.101.104", 2046) == "172,16,101,104,7,254"
    with pytest.raises(ValueError):
        format_port_argument("fe80::1", 21)
    with pytest.raises(ValueError):
        format_port_argument("1.2.3.4", 65536)


_ipv4 = st.ip_addresses(v=4).map(str)
_port = st.integers(1, 65535)


@given(_ipv4, _port)
def test_port_and_227_round_trip(host: str, port: int) -> None:
    assert parse_port_argument(format_port_argument(host, port)) == (host, port)
    assert parse_227("227 " + format_227(host, port)) == (host, port)


# --- EPRT -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("|1|132.235.1.2|6275|", ("132.235.1.2", 6275)),
        ("|2|1080::8:800:200C:417A|5282|", ("1080::8:800:200c:417a", 5282)),
        ("!1!10.0.0.1!21!", ("10.0.0.1", 21)),
        (" |2|::1|65535| ", ("::1", 65535)),
        ("|2|::ffff:10.0.0.1|21|", ("::ffff:10.0.0.1", 21)),  # as written
    ],
)
def test_parse_eprt(arg: str, expected: tuple[str, int]) -> None:
    assert parse_eprt_argument(arg) == expected


@pytest.mark.parametrize(
    "arg",
    [
        "",
        "|",
        "|1|1.2.3.4|21",
        "|1|1.2.3.4|21|x|",
        "1|1|1.2.3.4|21|",
        "|x|1.2.3.4|21|",
        "||1.2.3.4|21|",
        "|1|::1|21|",
        "|2|1.2.3.4|21|",
        "|1|1.2.3|21|",
        "|1|1.2.3.4|0|",
        "|1|1.2.3.4|65536|",
        "|1|1.2.3.4|port|",
        "|1|1.2.3.4||",
        "|2|fe80::1%eth0|21|",
        "\x7f1\x7f1.2.3.4\x7f21\x7f",
    ],
)
def test_parse_eprt_bad(arg: str) -> None:
    with pytest.raises(ArgumentError):
        parse_eprt_argument(arg)


@pytest.mark.parametrize("proto", ["3", "0", "17"])
def test_parse_eprt_unsupported_protocol_is_522(proto: str) -> None:
    with pytest.raises(ParameterNotImplemented) as info:
        parse_eprt_argument(f"|{proto}|1.2.3.4|21|")
    assert info.value.code == 522
    assert info.value.code == ReplyCode.UNSUPPORTED_NETWORK_PROTOCOL
    assert info.value.text == "Network protocol not supported, use (1,2)"


def test_format_eprt() -> None:
    assert format_eprt_argument("132.235.1.2", 6275) == "|1|132.235.1.2|6275|"
    assert format_eprt_argument("1080::8:800:200C:417A", 5282) == "|2|1080::8:800:200c:417a|5282|"
    assert format_eprt_argument("::ffff:127.0.0.1", 21) == "|1|127.0.0.1|21|"
    with pytest.raises(ValueError):
        format_eprt_argument("::1", 0)


@given(st.ip_addresses(), _port)
def test_eprt_round_trip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    assert parse_eprt_argument(format_eprt_argument(str(ip), port)) == (str(ip), port)


# --- 229 --------------------------------------------------------------------------------------
def test_format_229() -> None:
    assert format_229(6446) == "Entering Extended Passive Mode (|||6446|)."
    with pytest.raises(ValueError):
        format_229(0)


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("229 Entering Extended Passive Mode (|||6446|)", 6446),
        ("Entering Extended Passive Mode (!!!1!).", 1),
        ("229 EPSV ok (###65535#)", 65535),
        ("229 Entering Extended Passive Mode |||6446|", 6446),
    ],
)
def test_parse_229(text: str, port: int) -> None:
    assert parse_229(text) == port


@pytest.mark.parametrize(
    "text",
    ["229 Entering Extended Passive Mode", "(|||0|)", "(|||70000|)", "(||6446|)", "(|!|6446|)"],
)
def test_parse_229_bad(text: str) -> None:
    with pytest.raises(ArgumentError):
        parse_229(text)


@given(_port)
def test_229_round_trip(port: int) -> None:
    assert parse_229("229 " + format_229(port)) == port
