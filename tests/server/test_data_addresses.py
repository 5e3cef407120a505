"""Data-channel addresses and their refusals on IPv4 and IPv6: PASV on an IPv6 connection with a
masquerade address, EPSV's protocol numbers, the reasons of PORT/EPRT refusals and of an
active connection refused."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.conftest import HAS_IPV6
from tests.server.helpers import WAIT, Raw, read_until_closed
from tests.support.live import LiveServer, start_server
from tests.support.ports import free_port

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


@needs_ipv6
@pytest.mark.parametrize(
    "passive",
    [
        {"address": "127.0.0.1"},
        {"overrides": [{"network": "::1/128", "address": "127.0.0.1"}]},
    ],
    ids=["masquerade", "override"],
)
def test_pasv_on_ipv6_is_refused_even_with_an_ipv4_address_to_announce(
    tmp_path: Path, passive: dict[str, object]
) -> None:
    """The passive listener is on the connection's IPv6 address: a 227 naming the IPv4 one
    sent the client to a port nothing listened on."""
    live = start_server(tmp_path / "data", host="::1", passive=passive)
    try:
        with Raw.to(live) as raw:
            raw.login()
            reply = raw.cmd("PASV")
            assert reply.code == 425, reply.text
            assert "use EPSV" in reply.text
            assert re.search(r"\(\|\|\|\d+\|\)", raw.cmd("EPSV").text)
    finally:
        live.stop()


def test_active_connection_refused_says_why_in_words(live_any: LiveServer) -> None:
    (live_any.files / "f").write_bytes(b"f")
    host = live_any.host
    port = free_port(host)  # nothing listens there
    with Raw.to(live_any) as raw:
        raw.login()
        family = 2 if ":" in host else 1
        assert raw.cmd(f"EPRT |{family}|{host}|{port}|").code == 200
        reply = raw.cmd("RETR f")
        assert reply.code == 425
        assert f"Can't open data connection to {host} port {port}: Connection refused." in (
            reply.text
        )
        assert "Connect call failed" not in reply.text
        assert raw.cmd("NOOP").code == 200


@pytest.mark.parametrize("number", ["3", "7", "99"])
def test_epsv_with_another_protocol_number_is_522_with_the_supported_one(
    live_any: LiveServer, number: str
) -> None:
    """RFC 2428: a network protocol the server does not support is a 522 naming the ones it
    does, for EPSV as for EPRT; a word that is no number at all stays a 501."""
    family = "2" if ":" in live_any.host else "1"
    with Raw.to(live_any) as raw:
        raw.login()
        reply = raw.cmd(f"EPSV {number}")
        assert (reply.code, reply.text) == (522, f"Network protocol not supported, use ({family}).")
        assert raw.cmd("EPSV x").code == 501
        assert raw.cmd(f"EPSV {family}").code == 229


def test_eprt_refusals_name_eprt(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("EPRT |1|10.0.0.1|5000|").text == (
            "Rejected EPRT to 10.0.0.1: data connections go only to your own address (127.0.0.1)."
        )
        assert raw.cmd("EPRT |1|127.0.0.1|500|").text == (
            "Rejected EPRT to port 500: ports below 1024 are refused."
        )
        assert raw.cmd("PORT 127,0,0,1,1,244").text == (
            "Rejected PORT to port 500: ports below 1024 are refused."
        )


@pytest.mark.parametrize("verb", ["PORT", "EPRT"])
def test_an_unspecified_address_means_the_client_itself(live_any: LiveServer, verb: str) -> None:
    """lftp in active mode on a loopback connection binds its listener to no address and names
    that: EPRT |2|::|port| (PORT 0,0,0,0 the same over IPv4). It can only mean the client, over
    IPv6 too, where PORT can name no other address."""
    host = live_any.host
    (live_any.files / "f").write_bytes(b"active to the client")
    with Raw.to(live_any) as raw, socket.create_server((host, 0), family=_family(host)) as sink:
        raw.login()
        port = sink.getsockname()[1]
        if verb == "PORT":
            line = f"PORT 0,0,0,0,{port >> 8},{port & 255}"
        else:
            line = f"EPRT |2|::|{port}|" if ":" in host else f"EPRT |1|0.0.0.0|{port}|"
        assert raw.cmd(line).code == 200
        raw.send(b"RETR f\r\n")
        sink.settimeout(WAIT)
        conn, peer = sink.accept()
        assert peer[0] == host  # from the control connection's own address
        with conn:
            assert read_until_closed(conn) == b"active to the client"
        assert raw.reply().code == 150
        assert raw.reply().code == 226
