"""Passive first, a wrong 227 address corrected before any connection, fallback to active."""

from __future__ import annotations

from pathlib import Path

from pasv.client import ClientOptions, FtpClient
from pasv.client.addressing import passive_host
from pasv.client.trace import Kind
from tests.client.fakes import DataBreaker, dead_port
from tests.support.live import PASSWORD, USER, LiveServer, start_server


async def _download_announcing(
    tmp_path: Path, address: str, content: bytes
) -> tuple[bytes, list[tuple[Kind, str]]]:
    """A PASV download from a pasv server that announces ``address`` in its 227 (it listens
    on loopback): the bytes that came, and the client's session log."""
    server = start_server(tmp_path / "data", passive={"address": address})
    (server.files / "f.txt").write_bytes(content)
    events: list[tuple[Kind, str]] = []
    chunks: list[bytes] = []
    try:
        options = ClientOptions(epsv=False, trace=lambda k, t: events.append((k, t)))
        async with FtpClient(options) as client:
            await client.connect(server.host, server.port)
            await client.login(USER, PASSWORD)
            await client.download("/f.txt", chunks.append)
    finally:
        server.stop()
    return b"".join(chunks), events


def test_private_or_unroutable_227_address_becomes_the_control_peer() -> None:
    for announced in ("10.1.2.3", "192.168.1.20", "172.16.0.9", "0.0.0.0", "169.254.1.1"):
        host, note = passive_host(announced, "127.0.0.1")
        assert host == "127.0.0.1"
        assert note is not None and announced in note
    assert passive_host("8.8.8.8", "1.1.1.1") == ("8.8.8.8", None)
    assert passive_host("127.0.0.1", "127.0.0.1") == ("127.0.0.1", None)
    assert passive_host("::ffff:127.0.0.1", "127.0.0.1") == ("::ffff:127.0.0.1", None)


async def test_server_announcing_a_private_address_is_used_through_its_control_peer(
    tmp_path: Path,
) -> None:
    # The decision is made before any data connection: check it first, so that a wrong
    # decision fails here and no packet ever goes to 10.1.2.3.
    assert passive_host("10.1.2.3", "127.0.0.1")[0] == "127.0.0.1"
    got, events = await _download_announcing(tmp_path, "10.1.2.3", b"through the peer")
    assert got == b"through the peer"
    assert any(k == "Response" and "(10,1,2,3," in t for k, t in events)
    assert any(
        k == "Status" and "unroutable address 10.1.2.3" in t and "127.0.0.1" in t for k, t in events
    )


def test_a_routable_227_address_of_another_host_is_used_only_when_trusted() -> None:
    host, note = passive_host("8.8.8.8", "1.1.1.1", ClientOptions().trust_pasv_address)
    assert host == "1.1.1.1"
    assert note is not None and "8.8.8.8, not its own" in note
    trusted = ClientOptions(trust_pasv_address=True).trust_pasv_address
    assert passive_host("8.8.8.8", "1.1.1.1", trusted) == ("8.8.8.8", None)


async def test_a_227_pointing_at_a_third_host_is_used_through_the_control_peer(
    tmp_path: Path,
) -> None:
    """A server (hostile, or one with the wrong public address configured) cannot make the
    client connect to another host: the data connection goes to the control peer."""
    # As above: the decision first, so a wrong one fails before any packet leaves loopback.
    assert passive_host("8.8.8.8", "127.0.0.1", ClientOptions().trust_pasv_address)[0] == (
        "127.0.0.1"
    )
    got, events = await _download_announcing(tmp_path, "8.8.8.8", b"not elsewhere")
    assert got == b"not elsewhere"
    assert any(k == "Response" and "(8,8,8,8," in t for k, t in events)
    assert any(k == "Status" and "8.8.8.8, not its own" in t for k, t in events)


async def test_unreachable_passive_ports_fall_back_to_active(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    (server.files / "f.bin").write_bytes(b"x" * 70_000)
    events: list[tuple[Kind, str]] = []
    with dead_port() as refused:
        proxy = DataBreaker((server.host, server.port), refused, breaks="passive")
        await proxy.start()
        try:
            options = ClientOptions(trace=lambda k, t: events.append((k, t)), timeout=10)
            async with FtpClient(options) as client:
                await client.connect("127.0.0.1", proxy.port)
                await client.login(USER, PASSWORD)
                chunks: list[bytes] = []
                await client.download("/f.bin", chunks.append)
                names = [f.name for f in await client.listdir("/")]
                assert not client.passive
        finally:
            await proxy.close()
            server.stop()
    assert b"".join(chunks) == b"x" * 70_000
    assert names == ["f.bin"]
    fallbacks = [t for k, t in events if k == "Status" and "falling back" in t]
    assert len(fallbacks) == 1
    assert "Passive data connection failed" in fallbacks[0] and "active mode" in fallbacks[0]
    assert [t.split()[0] for k, t in events if k == "Command"].count("PORT") == 2


async def test_active_port_refused_falls_back_to_passive(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    (server.files / "g.txt").write_bytes(b"passive works")
    events: list[tuple[Kind, str]] = []
    with dead_port() as refused:
        proxy = DataBreaker((server.host, server.port), refused, breaks="active")
        await proxy.start()
        try:
            options = ClientOptions(passive=False, trace=lambda k, t: events.append((k, t)))
            async with FtpClient(options) as client:
                await client.connect("127.0.0.1", proxy.port)
                await client.login(USER, PASSWORD)
                chunks: list[bytes] = []
                await client.download("/g.txt", chunks.append)
                assert client.passive
        finally:
            await proxy.close()
            server.stop()
    assert b"".join(chunks) == b"passive works"
    assert any(k == "Response" and t.startswith("425") for k, t in events)
    assert any("Active data connection failed" in t and "passive mode" in t for _, t in events)


async def test_ipv6_passive_and_active(live_any: LiveServer) -> None:
    (live_any.files / "six.txt").write_bytes(b"over v6")
    for passive in (True, False):
        events: list[tuple[Kind, str]] = []
        options = ClientOptions(passive=passive, trace=lambda k, t, log=events: log.append((k, t)))
        async with FtpClient(options) as client:
            await client.connect(live_any.host, live_any.port)
            await client.login(USER, PASSWORD)
            chunks: list[bytes] = []
            await client.download("/six.txt", chunks.append)
        assert b"".join(chunks) == b"over v6"
        verbs = {t.split()[0] for k, t in events if k == "Command"}
        expected = "EPSV" if passive else ("EPRT" if ":" in live_any.host else "PORT")
        assert expected in verbs
