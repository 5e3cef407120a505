"""Data channels: PASV/EPSV ports and announced addresses, PORT/EPRT and their guards, theft of a
passive port, port pool limits, and the data-connect timeout (ABOR is in test_abort.py)."""

from __future__ import annotations

import ftplib
import re
import socket
from pathlib import Path

import pytest

from pasv.protocol.addresses import format_port_argument, parse_227
from tests.server.helpers import Raw, code_of, read_until_closed, wait_for
from tests.support.live import LiveServer, passive_range, start_server
from tests.support.ports import free_port


def port_range() -> tuple[int, int]:
    low, high = passive_range().split("-")
    return int(low), int(high)


def test_pasv_port_is_in_range(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.cmd("PASV")
        assert reply.code == 227
        assert re.fullmatch(r"Entering Passive Mode \(127,0,0,1,\d+,\d+\)\.", reply.text)
        _, port = parse_227(reply.text)
        low, high = port_range()
        assert low <= port <= high
        epsv = raw.cmd("EPSV")
        assert epsv.code == 229
        m = re.fullmatch(r"Entering Extended Passive Mode \(\|\|\|(\d+)\|\)\.", epsv.text)
        assert m and low <= int(m.group(1)) <= high
        assert raw.cmd("EPSV 1").code == 229
        assert raw.cmd("EPSV 2").code == 522


def test_epsv_and_pasv_on_ipv6(live_any: LiveServer) -> None:
    with Raw.to(live_any) as raw:
        raw.login()
        if ":" in live_any.host:
            assert raw.cmd("EPSV 2").code == 229
            assert raw.cmd("EPSV 1").code == 522
            assert raw.cmd("PASV").code == 425  # 227 cannot name an IPv6 address
        else:
            assert raw.cmd("PASV").code == 227
        assert raw.cmd("EPSV").code == 229


def test_epsv_all_refuses_other_modes(live: LiveServer) -> None:
    (live.files / "f").write_bytes(b"data")
    ftp = live.login()
    assert ftp.sendcmd("EPSV ALL").startswith("200")
    for line in ("PASV", "PORT 127,0,0,1,200,10", "EPRT |1|127.0.0.1|51210|"):
        with pytest.raises(ftplib.error_perm) as exc:
            ftp.sendcmd(line)
        assert code_of(exc.value) == 503
    with data_socket_epsv(ftp) as conn:
        assert ftp.sendcmd("RETR f").startswith("150")
        assert read_until_closed(conn) == b"data"
    assert ftp.voidresp().startswith("226")


def data_socket_epsv(ftp: ftplib.FTP) -> socket.socket:
    m = re.search(r"\(\|\|\|(\d+)\|\)", ftp.sendcmd("EPSV"))
    assert m
    return socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=5)


def test_masquerade_address_is_announced(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", passive={"address": "127.0.0.9"})
    try:
        (live.files / "f").write_bytes(b"via masquerade")
        ftp = live.login()
        reply = ftp.sendcmd("PASV")
        assert re.fullmatch(r"227 Entering Passive Mode \(127,0,0,9,\d+,\d+\)\.", reply)
        # ftplib connects to the control address, not the announced one: transfers still work
        chunks: list[bytes] = []
        ftp.retrbinary("RETR f", chunks.append)
        assert b"".join(chunks) == b"via masquerade"
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("network", "expected"), [("127.0.0.0/8", "127,0,0,7"), ("10.0.0.0/8", "127,0,0,9")]
)
def test_per_network_override(tmp_path: Path, network: str, expected: str) -> None:
    live = start_server(
        tmp_path / "data",
        passive={
            "address": "127.0.0.9",
            "overrides": [{"network": network, "address": "127.0.0.7"}],
        },
    )
    try:
        with Raw.to(live) as raw:
            raw.login()
            reply = raw.cmd("PASV")
            assert reply.code == 227
            assert f"({expected}," in reply.text
    finally:
        live.stop()


def test_port_and_eprt_active_transfers(live: LiveServer) -> None:
    (live.files / "f").write_bytes(b"active data")
    with Raw.to(live) as raw, socket.create_server(("127.0.0.1", 0)) as listener:
        raw.login()
        listener.settimeout(5)
        port = listener.getsockname()[1]
        for line in (
            f"PORT {format_port_argument('127.0.0.1', port)}",
            f"EPRT |1|127.0.0.1|{port}|",
        ):
            assert raw.cmd(line).code == 200
            raw.send(b"RETR f\r\n")
            conn, peer = listener.accept()
            with conn:
                assert peer[0] == "127.0.0.1"
                assert raw.reply().code == 150
                assert read_until_closed(conn) == b"active data"
            assert raw.reply().code == 226


@pytest.mark.parametrize(
    "target",
    [
        "PORT 127,0,0,2,{p1},{p2}",
        "PORT 8,8,8,8,{p1},{p2}",
        "EPRT |1|127.0.0.2|{port}|",
        "EPRT |1|8.8.8.8|{port}|",
        "EPRT |2|::1|{port}|",
    ],
)
def test_port_to_another_address_is_refused_without_connecting(
    live: LiveServer, target: str
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        line = target.format(p1=port >> 8, p2=port & 255, port=port)
        with Raw.to(live) as raw:
            raw.login()
            reply = raw.cmd(line)
            assert reply.code == 501, reply
            assert "your own address" in reply.text
            assert raw.cmd("LIST").code == 425  # nothing was set up
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_eprt_refusal_names_a_mapped_address_as_written(live: LiveServer) -> None:
    # Python 3.11 prints IPv6Address("::ffff:127.0.0.2") as ::ffff:7f00:2, an address the
    # reader cannot recognise as the one they sent
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.cmd("EPRT |2|::ffff:127.0.0.2|5000|")
        assert reply.code == 501, reply
        assert "::ffff:127.0.0.2" in reply.text, reply.text


@pytest.mark.parametrize(
    "line", ["PORT 127,0,0,1,0,21", "PORT 127,0,0,1,3,255", "EPRT |1|127.0.0.1|80|"]
)
def test_port_below_1024_is_refused(live: LiveServer, line: str) -> None:
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.cmd(line)
        assert reply.code == 501
        assert "below 1024" in reply.text


def test_passive_theft_is_refused(live: LiveServer) -> None:
    (live.files / "f").write_bytes(b"for the real client only")
    ftp = live.login()
    host, port = ftp.makepasv()
    ftp.putcmd("RETR f")
    with socket.create_connection(
        (host, port), timeout=5, source_address=("127.0.0.2", 0)
    ) as thief:
        assert read_until_closed(thief) == b""  # closed by the server, nothing sent
    with socket.create_connection((host, port), timeout=5) as conn:
        assert ftp.getresp().startswith("150")
        assert read_until_closed(conn) == b"for the real client only"
    assert ftp.voidresp().startswith("226")


def test_sessions_get_distinct_passive_ports(live: LiveServer) -> None:
    raws = [Raw.to(live) for _ in range(20)]
    try:
        ports = []
        for raw in raws:
            raw.login()
            reply = raw.cmd("PASV")
            assert reply.code == 227
            ports.append(parse_227(reply.text)[1])
        assert len(set(ports)) == 20
        low, high = port_range()
        assert all(low <= p <= high for p in ports)
        assert set(ports) <= live.server.passive_pool.in_use
    finally:
        for raw in raws:
            raw.close()
    # closing the sessions gives their ports back
    wait_for(lambda: not (set(ports) & live.server.passive_pool.in_use))


def test_data_connection_timeout_is_425(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", timeouts={"data_connect": 0.5})
    try:
        (live.files / "f").write_bytes(b"f")
        with Raw.to(live) as raw:
            raw.login()
            assert raw.cmd("PASV").code == 227
            reply = raw.cmd("RETR f")
            assert reply.code == 425
            assert "0.5 seconds" in reply.text
            assert raw.cmd("NOOP").code == 200
            port = free_port()
            assert raw.cmd(f"PORT 127,0,0,1,{port >> 8},{port & 255}").code == 200
            assert raw.cmd("RETR f").code == 425
        assert not live.server.passive_pool.in_use
    finally:
        live.stop()


def test_port_connect_refused_is_425(live: LiveServer) -> None:
    (live.files / "f").write_bytes(b"f")
    with Raw.to(live) as raw:
        raw.login()
        port = free_port()
        assert raw.cmd(f"EPRT |1|127.0.0.1|{port}|").code == 200
        reply = raw.cmd("RETR f")
        assert reply.code == 425
        assert f"port {port}" in reply.text
        assert raw.cmd("NOOP").code == 200


def test_second_pasv_releases_the_first_port(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        first = parse_227(raw.cmd("PASV").text)[1]
        second = parse_227(raw.cmd("PASV").text)[1]
        assert first != second
        assert first not in live.server.passive_pool.in_use
        assert second in live.server.passive_pool.in_use
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", first), timeout=5).close()


def test_eprt_to_another_address_on_ipv6(live_any: LiveServer) -> None:
    with Raw.to(live_any) as raw:
        raw.login()
        for line in ("EPRT |2|2001:db8::1|5000|", "EPRT |1|8.8.8.8|5000|", "EPRT |2|::1|80|"):
            assert raw.cmd(line).code == 501, line
        assert raw.cmd("LIST").code == 425


def test_small_port_range_is_respected_and_exhaustion_is_425(tmp_path: Path) -> None:
    low = port_range()[0] + 500  # inside this test process's own range
    live = start_server(tmp_path / "data", passive={"ports": f"{low}-{low + 2}"})
    try:
        raws = [Raw.to(live) for _ in range(4)]
        try:
            for raw in raws:
                raw.login()
            # the pool skips a port some other socket holds (e.g. a client's ephemeral port)
            replies = [raw.cmd("PASV") for raw in raws]
            granted = [parse_227(r.text)[1] for r in replies if r.code == 227]
            assert 1 <= len(granted) <= 3
            assert len(set(granted)) == len(granted)
            assert all(low <= port <= low + 2 for port in granted)
            refused = [r for r in replies if r.code != 227]
            assert refused and all(r.code == 425 for r in refused)
            assert f"all 3 passive ports ({low}-{low + 2}) are busy" in refused[0].text
            holder = raws[[r.code for r in replies].index(227)]
            waiting = raws[[r.code for r in replies].index(425)]
            assert holder.cmd("ABOR").code == 226  # gives its port back
            assert waiting.cmd("PASV").code == 227
        finally:
            for raw in raws:
                raw.close()
    finally:
        live.stop()


def test_site_pasvinfo_repeats_the_last_passive_reply(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", passive={"address": "127.0.0.9"})
    try:
        with Raw.to(live) as raw:
            raw.login()
            none_yet = raw.cmd("SITE PASVINFO")
            assert none_yet.code == 200 and "none" in none_yet.text
            pasv = raw.cmd("PASV")
            assert pasv.code == 227
            info = raw.cmd("site pasvinfo")
            assert (info.code, info.text) == (200, f"PASVINFO 227 {pasv.text}")
            assert parse_227(info.text) == ("127.0.0.9", parse_227(pasv.text)[1])
            epsv = raw.cmd("EPSV")
            assert raw.cmd("SITE PASVINFO").text == f"PASVINFO 229 {epsv.text}"
            assert any("PASVINFO" in line for line in raw.cmd("SITE HELP").lines)
    finally:
        live.stop()


def test_site_pasvinfo_needs_login(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd("SITE PASVINFO").code == 530
