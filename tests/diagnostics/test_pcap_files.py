"""Putting files together from transfers: offsets, gaps, conflicts, STOR, APPE, TYPE A, MODE Z
and MODE B."""

from __future__ import annotations

import zlib

from pasv.diagnostics.pcap.files import RebuiltFile, rebuild_files
from pasv.diagnostics.pcap.sessions import Session, Transfer
from pasv.diagnostics.pcap.tcp import Connection, Stream
from pasv.protocol import blockmode
from pasv.protocol.replies import Reply
from tests.diagnostics.scenarios import payload

DATA = payload("files", 10_000)
DONE = Reply(226, ("Transfer complete.",))
ABORTED = Reply(426, ("Connection closed; transfer aborted.",))


def stream(data: bytes, missing: tuple[tuple[int, int], ...] = ()) -> Stream:
    return Stream(data, missing, True, False, (0,), (0.0,))


def transfer(
    verb: str,
    data: bytes,
    *,
    rest: int = 0,
    ts: float = 1.0,
    reply: Reply = DONE,
    kind: str = "I",
    missing: tuple[tuple[int, int], ...] = (),
) -> Transfer:
    return Transfer(ts, verb, "f", "/f", kind, rest, None, [reply], stream(data, missing))


def session(
    *transfers: Transfer, sizes: dict[str, list[tuple[float, int]]] | None = None
) -> Session:
    conn = Connection(
        ("127.0.0.1", 5000), ("127.0.0.1", 21), 0.0, 9.0, True, stream(b""), stream(b"")
    )
    return Session(conn, [], transfers=list(transfers), sizes=sizes or {})


def one(
    *transfers: Transfer, sizes: dict[str, list[tuple[float, int]]] | None = None
) -> RebuiltFile:
    [item] = rebuild_files([session(*transfers, sizes=sizes)])
    return item


def test_segments_at_their_rest_offsets_make_the_file() -> None:
    item = one(
        transfer("RETR", DATA[6000:], rest=6000, ts=3),
        transfer("RETR", DATA[:3500], ts=1, reply=ABORTED),
        transfer("RETR", DATA[3000:6500], rest=3000, ts=2, reply=ABORTED),
        sizes={"/f": [(0.5, len(DATA))]},
    )
    assert bytes(item.content) == DATA and item.complete


def test_a_gap_in_a_later_transfer_keeps_the_earlier_bytes() -> None:
    damaged = DATA[:2000] + bytes(1000) + DATA[3000:]
    item = one(
        transfer("RETR", DATA, ts=1),
        transfer("RETR", damaged, ts=2, missing=((2000, 3000),)),
    )
    assert bytes(item.content) == DATA and item.complete


def test_transfers_that_disagree_are_reported() -> None:
    changed = DATA[:5000] + payload("other", 4000) + DATA[9000:]
    item = one(transfer("RETR", DATA, ts=1), transfer("RETR", changed, ts=2))
    assert not item.complete
    assert any("disagree on bytes 5000-9000" in p for p in item.status())


def test_without_size_a_clean_226_to_the_end_is_needed() -> None:
    assert one(transfer("RETR", DATA)).complete
    cut = one(transfer("RETR", DATA[:4000], reply=ABORTED))
    assert not cut.complete and cut.status()


def test_stor_replaces_and_appe_appends() -> None:
    item = one(
        transfer("STOR", payload("old", 9000), ts=1),
        transfer("STOR", DATA[:4000], ts=2),
        transfer("APPE", DATA[4000:], ts=3),
    )
    assert item.kind == "upload" and bytes(item.content) == DATA and item.complete


def test_appe_after_content_outside_the_capture_leaves_a_hole() -> None:
    item = one(transfer("APPE", DATA[4000:], ts=2), sizes={"/f": [(1.0, 4000)]})
    assert item.holes == [(0, 4000)] and not item.complete
    assert bytes(item.content[4000:]) == DATA[4000:]


def test_type_a_line_ends_become_lf() -> None:
    item = one(transfer("RETR", b"one\r\ntwo\r\nthree\r\n", kind="A"))
    assert bytes(item.content) == b"one\ntwo\nthree\n" and item.complete


def moded(verb: str, raw: bytes, mode: str, reply: Reply = DONE) -> Transfer:
    found = transfer(verb, raw, reply=reply)
    found.mode = mode
    return found


def test_mode_z_and_mode_b_transfers_are_decoded() -> None:
    item = one(moded("RETR", zlib.compress(DATA), "Z"), sizes={"/f": [(0.5, len(DATA))]})
    assert bytes(item.content) == DATA and item.complete
    blocks = b"".join(bytes(p) for p in blockmode.encode_data(DATA[:4000]))
    blocks += blockmode.encode_marker("4000")
    blocks += b"".join(bytes(p) for p in blockmode.encode_data(DATA[4000:]))
    item = one(moded("STOR", blocks + blockmode.encode_eof(), "B"))
    assert bytes(item.content) == DATA and item.complete and not item.notes


def test_a_mode_z_stream_cut_short_or_a_block_stream_without_eof_is_said() -> None:
    item = one(moded("STOR", zlib.compress(DATA)[:-30], "Z", ABORTED))
    assert not item.complete
    assert any("does not end in the capture" in note for note in item.notes)
    cut = b"".join(bytes(p) for p in blockmode.encode_data(DATA[:3000]))
    item = one(moded("STOR", cut, "B", ABORTED))
    assert bytes(item.content) == DATA[:3000] and not item.complete
    assert any("without the EOF block" in note for note in item.notes)
