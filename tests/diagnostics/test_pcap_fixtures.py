"""`pasv pcap` on committed captures of pasv sessions (runs where no capture tool exists)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dpkt
import pytest

from pasv.diagnostics.pcap.report import analyse, extract
from tests.diagnostics.pcap_checks import check_digests
from tests.diagnostics.scenarios import (
    APPENDED,
    DOWNLOAD,
    SEGMENTED,
    STOU_DATA,
    TEXT_DOWN,
    TEXT_UP,
    UPLOAD,
    payload,
    text_payload,
)

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_fixture_files_come_out_byte_identical(name: str, tmp_path: Path) -> None:
    expected = MANIFEST[name]
    check_digests(FIXTURES / name, expected["files"], expected["listing_names"], tmp_path)


def test_the_manifest_matches_the_originals() -> None:
    files = MANIFEST["passive-full.pcap"]["files"]
    assert files["/down.bin"] == sha(payload(*DOWNLOAD))
    assert files["/up.bin"] == sha(payload(*UPLOAD))
    assert files["/segmented.bin"] == sha(payload(*SEGMENTED))
    assert files["/log.bin"] == sha(
        payload(APPENDED[0], APPENDED[1]) + payload(APPENDED[0] + "+", APPENDED[2])
    )
    assert files["/notes.txt"] == sha(text_payload(*TEXT_DOWN))
    assert files["/readme.txt"] == sha(text_payload(*TEXT_UP))
    assert sha(payload(*STOU_DATA)) in files.values()


def test_rest_appe_stou_and_type_a_in_the_full_session(tmp_path: Path) -> None:
    analysis = analyse(FIXTURES / "passive-full.pcap")
    [session] = analysis.sessions
    transfers = session.transfers
    assert [t.rest for t in transfers if t.path == "/segmented.bin"] == [0, 4000, 8000]
    [stou] = [t for t in transfers if t.verb == "STOU"]
    assert stou.path != "/" and stou.replies[0].lines[0] == f"FILE: {stou.path.lstrip('/')}"
    [appe] = [t for t in transfers if t.verb == "APPE"]
    assert appe.path == "/log.bin"
    [notes] = [t for t in transfers if t.path == "/notes.txt"]
    assert notes.type == "A" and notes.data is not None
    assert notes.data.data == text_payload(*TEXT_DOWN).replace(b"\n", b"\r\n")  # wire: CRLF
    extract(analysis, tmp_path)
    assert (tmp_path / "notes.txt").read_bytes() == text_payload(*TEXT_DOWN)  # file: LF


def _rewrite(source: Path, target: Path, keep: object) -> None:
    """Copy a capture, keeping the packets for which keep(index, tcp) is true."""
    with source.open("rb") as f, target.open("wb") as g:
        reader = dpkt.pcap.Reader(f)
        writer = dpkt.pcap.Writer(g, snaplen=reader.snaplen, linktype=reader.datalink())
        for index, (ts, buf) in enumerate(reader):
            tcp = dpkt.ethernet.Ethernet(buf).data.data
            if keep(index, tcp):  # type: ignore[operator]
                writer.writepkt(buf, ts=ts)


def _data_packets_of(capture: Path, port_of: str) -> list[int]:
    """Indexes of the payload-carrying packets of the data connection serving ``port_of``."""
    [session] = analyse(capture).sessions
    [transfer] = [t for t in session.transfers if t.path == port_of and t.verb == "RETR"]
    assert transfer.announcement is not None
    port = transfer.announcement.port
    with capture.open("rb") as f:
        return [
            i
            for i, (_, buf) in enumerate(dpkt.pcap.Reader(f))
            if (tcp := dpkt.ethernet.Ethernet(buf).data.data).data
            and port in (tcp.sport, tcp.dport)
        ]


def test_a_lost_packet_makes_the_file_incomplete_never_silently_short(tmp_path: Path) -> None:
    source = FIXTURES / "active.pcap"
    lost = _data_packets_of(source, "/down.bin")[0]
    damaged = tmp_path / "damaged.pcap"
    _rewrite(source, damaged, lambda i, tcp: i != lost)
    analysis = analyse(damaged)
    extract(analysis, tmp_path / "out")
    [item] = [f for f in analysis.files if f.path == "/down.bin"]
    assert not item.complete
    assert f"bytes 0-{DOWNLOAD[1]} are missing" in item.status()  # lo sent it in one segment
    assert not (tmp_path / "out" / "down.bin").exists()
    written = (tmp_path / "out" / "down.bin.incomplete").read_bytes()
    assert written == bytes(DOWNLOAD[1])  # the missing bytes are zeros, at their place


def test_a_capture_that_stops_early_reports_what_is_missing(tmp_path: Path) -> None:
    source = FIXTURES / "active.pcap"
    first_data = _data_packets_of(source, "/down.bin")[0]
    cut = tmp_path / "cut.pcap"
    _rewrite(source, cut, lambda i, tcp: i <= first_data)
    [item] = [f for f in analyse(cut).files if f.path == "/down.bin"]
    assert not item.complete and item.status()
    [transfer] = item.transfers
    assert "the capture ends before the data connection closed" in transfer.problems


def test_a_segmented_download_missing_its_first_segment_has_a_hole(tmp_path: Path) -> None:
    analysis = analyse(FIXTURES / "passive-full.pcap")
    [session] = analysis.sessions
    first = next(t for t in session.transfers if t.path == "/segmented.bin")
    assert first.announcement is not None
    port = first.announcement.port
    source, damaged = FIXTURES / "passive-full.pcap", tmp_path / "hole.pcap"
    _rewrite(source, damaged, lambda i, tcp: port not in (tcp.sport, tcp.dport))
    [item] = [f for f in analyse(damaged).files if f.path == "/segmented.bin"]
    assert not item.complete
    assert item.holes == [(0, 4000)]
    assert len(item.content) == SEGMENTED[1]
