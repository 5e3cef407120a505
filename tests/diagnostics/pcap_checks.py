"""Checks shared by the live-capture and the fixture tests of `pasv pcap`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pasv.diagnostics.pcap.report import Analysis, analyse, extract
from tests.diagnostics.scenarios import Recorded


def check_capture(capture: Path, recorded: Recorded, out: Path) -> Analysis:
    """Every file of the session is extracted byte-identical, complete, with its sha256."""
    digests = {
        path: hashlib.sha256(content).hexdigest() for path, content in recorded.files.items()
    }
    return check_digests(capture, digests, recorded.listing_names, out)


def check_digests(
    capture: Path, digests: dict[str, str], listing_names: list[str], out: Path
) -> Analysis:
    """Like check_capture, against the SHA-256 of each original (for committed fixtures)."""
    analysis = analyse(capture)
    extract(analysis, out)
    assert len(analysis.sessions) == 1
    by_path = {f.path: f for f in analysis.files if f.kind != "listing"}
    assert set(by_path) == set(digests)
    for path, digest in digests.items():
        item = by_path[path]
        assert item.complete, (path, item.status())
        assert item.sha256 == digest, path
        written = (out / path.lstrip("/")).read_bytes()
        assert hashlib.sha256(written).hexdigest() == digest, path
    listings = [f for f in analysis.files if f.kind == "listing"]
    assert listings, "the NLST is in the capture"
    listed = sorted(bytes(listings[-1].content).decode().split())
    assert listed == listing_names
    assert analysis.written[id(listings[-1])].read_bytes() == bytes(listings[-1].content)
    return analysis
