"""MODE B framing (RFC 959 §3.4.2): headers, EOF/EOR, restart markers, bad streams."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol import blockmode
from pasv.protocol.blockmode import BadBlock, BlockDecoder, Data, End, Marker


def stream(*parts: bytes) -> bytes:
    return b"".join(parts)


def data_blocks(data: bytes) -> bytes:
    return b"".join(bytes(p) for p in blockmode.encode_data(data))


def decode_all(raw: bytes, step: int | None = None) -> list[blockmode.Event]:
    decoder = BlockDecoder()
    step = step or max(1, len(raw))
    events: list[blockmode.Event] = []
    for start in range(0, len(raw), step):
        events += decoder.feed(raw[start : start + step])
    decoder.check_end()
    return events


def test_header_is_descriptor_and_big_endian_count() -> None:
    assert blockmode.header(blockmode.EOF, 0x0102) == b"\x40\x01\x02"
    assert blockmode.encode_eof() == b"\x40\x00\x00"
    assert blockmode.encode_marker("1048576") == b"\x10\x00\x071048576"


def test_large_data_is_split_into_blocks_of_at_most_65535_bytes() -> None:
    raw = data_blocks(b"x" * 70000)
    assert raw[:3] == b"\x00\xff\xff"
    assert raw[3 + 65535 : 3 + 65535 + 3] == b"\x00\x11\x71"  # 4465 bytes
    assert len(raw) == 70000 + 6


def test_data_markers_and_eof_decode_in_order() -> None:
    raw = stream(data_blocks(b"abc"), blockmode.encode_marker("3"), data_blocks(b"de"),
                 blockmode.encode_eof())  # fmt: skip
    events = decode_all(raw)
    joined = b"".join(e.data for e in events if isinstance(e, Data))
    assert joined == b"abcde"
    assert [e for e in events if isinstance(e, Marker)] == [Marker("3")]
    assert isinstance(events[-1], End)


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=70))
def test_any_split_of_the_stream_decodes_the_same(data: bytes, step: int) -> None:
    raw = stream(data_blocks(data[:1000]), blockmode.encode_marker("m1000"),
                 data_blocks(data[1000:]), blockmode.encode_eof())  # fmt: skip
    events = decode_all(raw, step)
    assert b"".join(e.data for e in events if isinstance(e, Data)) == data
    assert [e.marker for e in events if isinstance(e, Marker)] == ["m1000"]


def test_eof_on_a_data_block_ends_after_its_bytes() -> None:
    raw = blockmode.header(blockmode.EOF, 2) + b"hi"
    events = decode_all(raw)
    assert events == [Data(b"hi"), End()]


def test_eor_is_reported_and_eof_can_share_the_descriptor() -> None:
    raw = (
        blockmode.header(blockmode.EOR, 1)
        + b"a"
        + blockmode.header(blockmode.EOR | blockmode.EOF, 0)
    )
    assert decode_all(raw) == [Data(b"a", True), Data(b"", True), End()]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x07\x00\x01x", "unknown block descriptor 7"),
        (b"\x10\x00\x00", "restart marker block of 0 bytes"),
        (b"\x10\x00\x03a b", "unprintable bytes or spaces"),
        (b"\x10\x01\x00" + b"1" * 256, "restart marker block of 256 bytes"),
        (blockmode.encode_eof() + b"\x00\x00\x01z", "after the EOF block"),
    ],
)
def test_bad_streams_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadBlock, match=reason):
        decode_all(raw)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (data_blocks(b"abc"), "without the EOF block"),
        (b"\x00\x00\x05ab", "inside a block"),
        (b"\x00", "inside a block"),
    ],
)
def test_a_stream_cut_short_is_not_complete(raw: bytes, reason: str) -> None:
    decoder = BlockDecoder()
    decoder.feed(raw)
    assert not decoder.ended
    with pytest.raises(BadBlock, match=reason):
        decoder.check_end()


def test_markers_must_be_printable_without_spaces() -> None:
    assert blockmode.valid_marker("r1048576")
    for bad in ("", "a b", "é", "x" * 65, "tab\t"):
        assert not blockmode.valid_marker(bad)
        with pytest.raises(ValueError):
            blockmode.encode_marker(bad)
