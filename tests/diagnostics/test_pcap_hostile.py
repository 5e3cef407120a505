"""Captures made to hurt the reader: names that collide with folders or the checksum file, names
too long for a file system, offsets and sequence jumps far beyond what the capture holds."""

from __future__ import annotations

import json
import socket
import tracemalloc
import zlib
from pathlib import Path

import dpkt
import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.diagnostics.pcap.budget import Budget
from pasv.diagnostics.pcap.files import rebuild_files
from pasv.diagnostics.pcap.packets import FIN, SYN, CaptureError, Segment, read_segments
from pasv.diagnostics.pcap.report import Analysis, analyse, extract
from pasv.diagnostics.pcap.sessions import Session, Transfer
from pasv.diagnostics.pcap.tcp import Connection, Stream, reassemble
from pasv.protocol.replies import Reply

DONE = Reply(226, ("Transfer complete.",))
FIXTURES = Path(__file__).parent / "fixtures"


def stream(data: bytes) -> Stream:
    return Stream(data, (), True, False, (0,), (0.0,))


def session_of(*transfers: Transfer) -> Session:
    conn = Connection(
        ("127.0.0.1", 5000), ("127.0.0.1", 21), 0.0, 9.0, True, stream(b""), stream(b"")
    )
    return Session(conn, [], transfers=list(transfers))


def stored(*names: str) -> Analysis:
    """One session that STORed each name, with the name's bytes as content."""
    transfers = [
        Transfer(float(i), "STOR", name, name, "I", 0, None, [DONE], stream(name.encode()))
        for i, name in enumerate(names, 1)
    ]
    sessions = [session_of(*transfers)]
    return Analysis(sessions, rebuild_files(sessions), [])


def written(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    }


def test_a_file_and_a_folder_of_one_name_are_both_written(tmp_path: Path) -> None:
    extract(stored("/a", "/a/b", "/c/d", "/c"), tmp_path)
    files = written(tmp_path)
    assert files == {"a": b"/a", "a_b": b"/a/b", "c/d": b"/c/d", "c~2": b"/c"}
    listed = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8").split()
    assert sorted(listed[1::2]) == sorted(files)


def test_a_file_named_like_the_checksum_list_does_not_replace_it(tmp_path: Path) -> None:
    extract(stored("/SHA256SUMS", "/x"), tmp_path)
    assert written(tmp_path) == {"SHA256SUMS~2": b"/SHA256SUMS", "x": b"/x"}
    sums = (tmp_path / "SHA256SUMS").read_text(encoding="utf-8")
    assert sums.count("\n") == 2 and "SHA256SUMS~2" in sums


def test_a_name_longer_than_a_file_system_allows_is_shortened(tmp_path: Path) -> None:
    long = "/" + "x" * 300 + "/" + "名" * 200
    extract(stored(long, "/../../escape"), tmp_path)
    files = written(tmp_path)
    assert files["escape"] == b"/../../escape"
    [(name, content)] = [(n, c) for n, c in files.items() if n != "escape"]
    assert content == long.encode()
    assert all(len(part.encode()) <= 255 for part in Path(name).parts)
    assert not (tmp_path.parent / "escape").exists()


def sent(*pieces: tuple[int, int, bytes]) -> Stream:
    """The client's stream of a connection whose client sent (seq, flags, payload) segments."""
    client, server = ("127.0.0.1", 40000), ("127.0.0.1", 21)
    segments = [
        Segment(float(i), client, server, seq, flags, data, len(data))
        for i, (seq, flags, data) in enumerate(pieces)
    ]
    [conn] = reassemble(segments, Budget(1000))
    return conn.c2s


def test_a_sequence_jump_beyond_the_budget_is_missing_not_zero_filled() -> None:
    near = sent((99, SYN, b""), (100, 0, b"abc"), (603, 0, b"xyz"), (606, FIN, b""))
    assert near.data == b"abc" + bytes(500) + b"xyz" and near.missing == ((3, 503),)
    # 2 GB further on, as a hostile capture may claim: nothing is held for the hole
    far = sent((99, SYN, b""), (100, 0, b"abc"), (100 + (1 << 31) - 9, 0, b"xyz"))
    assert far.data == b"abc" and far.missing == ((3, (1 << 31) - 6),)
    fin = sent((99, SYN, b""), (100, 0, b"abc"), (100 + (1 << 31) - 9, FIN, b""))
    assert fin.data == b"abc" and fin.missing == ((3, (1 << 31) - 9),) and fin.closed


def test_rest_far_beyond_the_capture_is_reported_not_allocated() -> None:
    far = Transfer(1.0, "RETR", "f", "/f", "I", 900_000_000_000, None, [DONE], stream(b"hello"))
    [item] = rebuild_files([session_of(far)])
    assert len(item.content) == 0 and not item.complete
    assert any("byte 900000000000" in reason for reason in item.status())


def test_a_mode_z_bomb_is_inflated_only_as_far_as_the_budget() -> None:
    bomb = zlib.compress(bytes(20_000_000), 9)
    z = Transfer(1.0, "RETR", "f", "/f", "I", 0, None, [DONE], stream(bomb), mode="Z")
    [item] = rebuild_files([session_of(z)], Budget(1_000_000))
    assert len(item.content) == len(bomb) + 1_000_000
    assert any("inflates to more than" in note for note in item.notes)


def test_a_capture_cut_mid_packet_is_read_up_to_the_cut(tmp_path: Path) -> None:
    whole = (FIXTURES / "ipv6.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(whole[:5000])
    analysis = analyse(cut)
    assert analysis.sessions and analysis.sessions[0].user == "alice"
    [problem] = analysis.problems
    assert "cut short after" in problem and "packets before the cut" in problem
    with pytest.raises(CaptureError, match="cut short"):  # strict readers still refuse it
        list(read_segments(cut))
    result = CliRunner().invoke(app, ["pcap", str(cut), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["problems"] == [problem]
    assert "Warning:" in result.stderr and "cut short" in result.stderr


Packet = tuple[tuple[str, int], tuple[str, int], int, int, bytes]


def write_capture(path: Path, packets: list[Packet]) -> None:
    """(src, dst, seq, flags, payload) packets as a raw-IP pcap, one millisecond apart."""
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_RAW)
        for i, (src, dst, seq, flags, data) in enumerate(packets):
            tcp = dpkt.tcp.TCP(sport=src[1], dport=dst[1], seq=seq, flags=flags, data=data)
            ip = dpkt.ip.IP(
                src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, data=tcp
            )
            writer.writepkt(bytes(ip), ts=1000.0 + i / 1000)


def conversation(client: tuple[str, int], server: tuple[str, int], *said: bytes) -> list[Packet]:
    """A connection's handshake, then each payload: the server's first, then in turn."""
    out: list[Packet] = [(client, server, 99, SYN, b""), (server, client, 499, SYN | 0x10, b"")]
    seq = {client: 100, server: 500}
    for i, data in enumerate(said):
        src, dst = (server, client) if i % 2 == 0 else (client, server)
        out.append((src, dst, seq[src], 0x18, data))
        seq[src] += len(data)
    return out


def many_sessions(path: Path, count: int) -> None:
    """A capture of ``count`` control connections, each a greeting and a USER."""
    packets = []
    for i in range(count):
        client = (f"127.0.{i // 250}.{1 + i % 250}", 40000)
        packets += conversation(client, ("127.1.0.1", 21), b"220 Hello\r\n", b"USER a\r\n")
    write_capture(path, packets)


def test_a_download_the_capture_ends_in_keeps_the_size_its_150_announced(
    tmp_path: Path,
) -> None:
    client, server = ("127.0.0.1", 40000), ("127.0.0.1", 21)
    control = conversation(
        client, server, b"220 Hi\r\n", b"USER a\r\n", b"230 Ok\r\n", b"PASV\r\n",
        b"227 Entering Passive Mode (127,0,0,1,200,0)\r\n", b"RETR big.iso\r\n",
        b"150 Opening BINARY mode data connection for big.iso (999999 bytes)\r\n",
    )  # fmt: skip
    data = conversation(("127.0.0.1", 40001), ("127.0.0.1", 51200), b"x" * 3000)
    write_capture(tmp_path / "cut.pcap", control + data)  # no 226, no FIN: the capture stops
    [item] = analyse(tmp_path / "cut.pcap").files
    assert len(item.content) == 3000 and not item.complete
    assert "3000 bytes rebuilt, the server announced 999999" in item.status()
    assert "bytes 3000-999999 are missing" in item.status()
    assert "the capture ends during RETR big.iso" in item.status()


def test_json_of_a_capture_with_thousands_of_sessions_stays_small(tmp_path: Path) -> None:
    capture = tmp_path / "many.pcap"
    many_sessions(capture, 1000)
    tracemalloc.start()
    try:
        result = CliRunner().invoke(app, ["pcap", str(capture), "--json"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)["sessions"]) == 1000
    # the analysis and the text take ~15x the JSON's size; pretty-printing it through rich ~135x
    assert peak < 25 * len(result.stdout), (peak, len(result.stdout))
