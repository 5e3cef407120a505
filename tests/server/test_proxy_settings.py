"""[proxy] and [drain] settings, and which addresses count as a trusted balancer."""

from __future__ import annotations

import pytest

from pasv.config import ConfigError, load_settings
from pasv.protocol.proxyheader import V2_SIGNATURE, encode_v2
from pasv.server.proxied import Balancers, HeaderReader, NotABalancer


def test_off_by_default() -> None:
    settings = load_settings(None, None, environ={})
    assert settings.proxy.enabled is False and settings.proxy.trusted == ()
    assert settings.drain.timeout == 30.0 and settings.drain.reason == "node draining for shutdown"


def test_trusted_from_the_environment() -> None:
    environ = {"PASV_PROXY_ENABLED": "true", "PASV_PROXY_TRUSTED": "192.0.2.5, 2001:db8::/64"}
    settings = load_settings(None, None, environ=environ)
    assert [str(net) for net in settings.proxy.trusted] == ["192.0.2.5/32", "2001:db8::/64"]


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ({"enabled": True}, "proxy.enabled needs proxy.trusted"),
        ({"trusted": ["192.0.2.5/24"]}, "proxy.trusted: 192.0.2.5/24 has host bits set"),
        ({"trusted": ["balancer.example"]}, "does not appear to be an IPv4 or IPv6 network"),
        ({"header_timeout": 0}, "proxy.header_timeout"),
    ],
)
def test_bad_proxy_settings_name_the_key(proxy: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, {"proxy": proxy}, environ={})


@pytest.mark.parametrize(
    ("drain", "message"),
    [
        ({"timeout": -1}, "drain.timeout"),
        ({"reason": "two\r\nlines"}, "drain.reason: the reason is one line"),
        ({"reason": ""}, "drain.reason"),
    ],
)
def test_bad_drain_settings_name_the_key(drain: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, {"drain": drain}, environ={})


def test_which_addresses_are_balancers() -> None:
    settings = load_settings(
        None, {"proxy": {"enabled": True, "trusted": ["192.0.2.0/28", "2001:db8::1"]}}, environ={}
    )
    balancers = Balancers(settings.proxy)
    assert balancers.trusts("192.0.2.5")
    assert balancers.trusts("::ffff:192.0.2.15")  # as a dual-stack socket reports it
    assert balancers.trusts("2001:db8::1")
    assert not balancers.trusts("192.0.2.16")
    assert not balancers.trusts("2001:db8::2")
    assert not balancers.trusts("not an address")
    assert balancers.reader("192.0.2.5").required
    assert not balancers.reader("198.51.100.1").required


def test_a_client_elsewhere_may_type_a_command_that_starts_like_a_header() -> None:
    reader = HeaderReader(required=False)
    assert reader.feed(b"PR") is None  # PROT or PROXY? wait for more
    assert reader.feed(b"OT P\r\n") == (None, b"PROT P\r\n")


@pytest.mark.parametrize("first", [b"PROXY TCP4 192.0.2.1", V2_SIGNATURE])
def test_a_client_elsewhere_sending_a_header_is_refused(first: bytes) -> None:
    reader = HeaderReader(required=False)
    assert reader.feed(first[:3]) is None
    with pytest.raises(NotABalancer):
        reader.feed(first[3:])


def test_a_balancers_header_in_pieces_then_the_first_command() -> None:
    reader = HeaderReader(required=True)
    data = encode_v2(("192.0.2.10", 5000), ("192.0.2.1", 21)) + b"USER alice\r\n"
    for piece in (data[:5], data[5:20]):
        assert reader.feed(piece) is None
    result = reader.feed(data[20:])
    assert result is not None
    header, rest = result
    assert header is not None and header.source == ("192.0.2.10", 5000)
    assert rest == b"USER alice\r\n"
