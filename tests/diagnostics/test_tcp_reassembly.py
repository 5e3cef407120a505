"""TCP reassembly on synthetic captures built with dpkt: order, retransmission, gaps, IPv6."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import dpkt
import pytest

from pasv.diagnostics.pcap.packets import CaptureError, read_segments
from pasv.diagnostics.pcap.tcp import Connection, reassemble
from tests.diagnostics.scenarios import payload

SYN, ACK, FIN, PSH = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN, dpkt.tcp.TH_PUSH
CLIENT, SERVER = ("127.0.0.1", 40000), ("127.0.0.1", 2121)
CLIENT6, SERVER6 = ("::1", 40000), ("::1", 2121)
Frame = tuple[float, bytes]


def ip_packet(
    src: tuple[str, int], dst: tuple[str, int], seq: int, flags: int, data: bytes
) -> bytes:
    tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, ack=1, flags=flags, data=data)
    if ":" in src[0]:
        ip6 = dpkt.ip6.IP6(
            src=socket.inet_pton(socket.AF_INET6, src[0]),
            dst=socket.inet_pton(socket.AF_INET6, dst[0]),
            nxt=dpkt.ip.IP_PROTO_TCP,
            hlim=64,
            data=tcp,
        )
        ip6.plen = len(tcp)
        return bytes(ip6)
    ip = dpkt.ip.IP(
        src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP, data=tcp
    )
    return bytes(ip)


def ethernet(packet: bytes) -> bytes:
    kind = dpkt.ethernet.ETH_TYPE_IP6 if packet[0] >> 4 == 6 else dpkt.ethernet.ETH_TYPE_IP
    return bytes(dpkt.ethernet.Ethernet(type=kind, data=packet))


def connection_frames(
    data: bytes,
    *,
    client: tuple[str, int] = CLIENT,
    server: tuple[str, int] = SERVER,
    isn: int = 1000,
    size: int = 700,
    handshake: bool = True,
) -> tuple[list[Frame], list[Frame], Frame]:
    """(handshake frames, data segments, FIN) of a client sending ``data`` to a server."""
    t = 1_800_000_000.0
    opening = [
        (t, ethernet(ip_packet(client, server, isn, SYN, b""))),
        (t + 0.001, ethernet(ip_packet(server, client, 5000, SYN | ACK, b""))),
    ]
    segments = [
        (
            t + 0.01 + i / 1000,
            ethernet(
                ip_packet(
                    client, server, (isn + 1 + off) % (1 << 32), ACK | PSH, data[off : off + size]
                )
            ),
        )
        for i, off in enumerate(range(0, len(data), size))
    ]
    fin = (
        t + 1.0,
        ethernet(ip_packet(client, server, (isn + 1 + len(data)) % (1 << 32), FIN | ACK, b"")),
    )
    return (opening if handshake else []), segments, fin


def write_pcap(path: Path, frames: list[Frame], *, pcapng: bool = False) -> Path:
    with path.open("wb") as f:
        writer = (dpkt.pcapng.Writer if pcapng else dpkt.pcap.Writer)(f)
        for ts, buf in frames:
            writer.writepkt(buf, ts=ts)
    return path


def only(path: Path) -> Connection:
    [conn] = reassemble(read_segments(path))
    return conn


DATA = payload("reassembly", 20_000)


def test_in_order(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA)
    conn = only(write_pcap(tmp_path / "a.pcap", [*opening, *segments, fin]))
    assert (conn.client, conn.server, conn.handshake) == (CLIENT, SERVER, True)
    assert conn.c2s.data == DATA and conn.c2s.complete and conn.s2c.data == b""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_out_of_order_duplicated_and_overlapping_segments(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    opening, segments, fin = connection_frames(DATA)
    retransmitted = rng.sample(segments, 8)
    _, overlapping, _ = connection_frames(DATA[350:], isn=1000 + 350, size=1000)  # shifted halves
    shuffled = [*segments, *retransmitted, *rng.sample(overlapping, 6), fin]
    rng.shuffle(shuffled)
    conn = only(write_pcap(tmp_path / "b.pcap", [*opening, *shuffled]))
    assert conn.c2s.data == DATA
    assert conn.c2s.complete


def test_ipv6_and_pcapng(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA, client=CLIENT6, server=SERVER6)
    frames = [*opening, *reversed(segments), fin]
    conn = only(write_pcap(tmp_path / "c.pcapng", frames, pcapng=True))
    assert conn.client == CLIENT6 and conn.c2s.data == DATA and conn.c2s.complete


def test_sequence_numbers_wrapping_around(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA, isn=(1 << 32) - 5_000)
    conn = only(write_pcap(tmp_path / "d.pcap", [*opening, *segments[::-1], fin]))
    assert conn.c2s.data == DATA and conn.c2s.complete


def test_a_capture_started_mid_stream(tmp_path: Path) -> None:
    _, segments, fin = connection_frames(DATA, handshake=False)
    late = segments[3:]
    conn = only(write_pcap(tmp_path / "e.pcap", [late[2], *late, fin]))
    assert not conn.handshake
    assert conn.c2s.data == DATA[3 * 700 :]


def test_a_lost_segment_is_a_reported_gap_not_a_shorter_stream(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA)
    del segments[5]
    conn = only(write_pcap(tmp_path / "f.pcap", [*opening, *segments, fin]))
    assert conn.c2s.missing == ((3500, 4200),)
    assert len(conn.c2s.data) == len(DATA) and not conn.c2s.complete
    assert conn.c2s.data[:3500] == DATA[:3500] and conn.c2s.data[4200:] == DATA[4200:]
    assert conn.c2s.data[3500:4200] == bytes(700)


def test_a_lost_last_segment_before_the_fin(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA)
    conn = only(write_pcap(tmp_path / "g.pcap", [*opening, *segments[:-1], fin]))
    assert conn.c2s.missing == ((len(DATA) - len(DATA) % 700, len(DATA)),)


def test_a_reused_four_tuple_is_two_connections(tmp_path: Path) -> None:
    first = connection_frames(DATA[:5000])
    second = connection_frames(DATA[5000:8000], isn=900_000)
    frames = [*first[0], *first[1], first[2]]
    frames += [(ts + 5, buf) for ts, buf in (*second[0], *second[1], second[2])]
    conns = reassemble(read_segments(write_pcap(tmp_path / "h.pcap", frames)))
    assert [c.c2s.data for c in conns] == [DATA[:5000], DATA[5000:8000]]


def test_raw_ip_link_type(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA[:3000])
    raw = [(ts, dpkt.ethernet.Ethernet(buf).data.pack()) for ts, buf in [*opening, *segments, fin]]
    path = tmp_path / "raw.pcap"
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_RAW)
        for ts, buf in raw:
            writer.writepkt(buf, ts=ts)
    assert only(path).c2s.data == DATA[:3000]


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("220 hello\r\n")
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        list(read_segments(path))


def test_segments_cut_by_the_snapshot_length_leave_gaps(tmp_path: Path) -> None:
    opening, segments, fin = connection_frames(DATA[:2100])
    cut = [(ts, buf[:-100]) for ts, buf in segments]  # as a capture with a small snaplen
    conn = only(write_pcap(tmp_path / "i.pcap", [*opening, *cut, fin]))
    assert conn.c2s.missing == ((600, 700), (1300, 1400), (2000, 2100))
    assert len(conn.c2s.data) == 2100 and not conn.c2s.complete
