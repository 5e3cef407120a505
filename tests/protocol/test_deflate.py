"""MODE Z's adaptive sender: one valid zlib stream; stored blocks for what does not shrink."""

from __future__ import annotations

import os
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasv.protocol.deflate import PROBE_AFTER, WINDOW, AdaptiveDeflater

MIB = 1024 * 1024


def text(size: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"GET", b"/index.html", b"200", b"404", b"ms\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def deflate(pieces: list[bytes], level: int = 6) -> tuple[bytes, AdaptiveDeflater]:
    sender = AdaptiveDeflater(level)
    out = b"".join(sender.compress(p) for p in pieces) + sender.finish()
    return out, sender


def inflate(raw: bytes) -> bytes:
    decomp = zlib.decompressobj()
    data = decomp.decompress(raw)
    assert decomp.eof and not decomp.unused_data  # exactly one whole zlib stream
    return data


def test_text_is_compressed_and_nothing_is_stored() -> None:
    data = text(3 * MIB)
    raw, sender = deflate([data[i : i + 256 * 1024] for i in range(0, len(data), 256 * 1024)])
    assert inflate(raw) == data
    assert len(raw) < len(data) // 3
    assert sender.stored_bytes == 0


def test_random_data_goes_in_stored_blocks_after_one_window() -> None:
    data = os.urandom(6 * MIB)
    raw, sender = deflate([data[i : i + MIB] for i in range(0, len(data), MIB)])
    assert inflate(raw) == data
    assert sender.stored_bytes == len(data) - WINDOW
    assert len(raw) < len(data) * 1.001  # stored blocks: 5 bytes per 64 KiB, header, trailer


def test_compression_comes_back_when_the_data_changes() -> None:
    noise = os.urandom(WINDOW + PROBE_AFTER)  # judged, stored, then the probe meets the text
    words = text(8 * MIB)
    pieces = [noise[i : i + MIB] for i in range(0, len(noise), MIB)]
    pieces += [words[i : i + MIB] for i in range(0, len(words), MIB)]
    raw, sender = deflate(pieces)
    assert inflate(raw) == noise + words
    assert sender.stored_bytes == PROBE_AFTER
    assert len(raw) < len(noise) + len(words) // 2  # the text part was compressed again


@pytest.mark.parametrize("level", [0, 1, 9])
def test_every_level_makes_a_valid_stream(level: int) -> None:
    data = text(100_000) + os.urandom(2 * MIB) + text(100_000, 2)
    raw, _ = deflate([data[:70_000], data[70_000 : MIB * 2], data[MIB * 2 :]], level)
    assert inflate(raw) == data


def test_an_empty_transfer_is_a_valid_stream() -> None:
    raw, _ = deflate([])
    assert zlib.decompress(raw) == b""


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=5000), max_size=20), st.integers(min_value=0, max_value=9))
def test_any_pieces_round_trip(pieces: list[bytes], level: int) -> None:
    raw, _ = deflate(pieces, level)
    assert inflate(raw) == b"".join(pieces)
