"""Data-channel addresses and their refusals on IPv4 and IPv6: PASV on an IPv6 connection with a
masquerade address, EPSV's protocol numbers, the reasons of PORT/EPRT refusals and of an
active connection refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import HAS_IPV6
from tests.server.helpers import Raw
from tests.support.live import LiveServer, start_server
from tests.support.ports import free_port

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")


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
