"""Record the committed pcap fixtures: `python -m tests.diagnostics.record_fixtures` (as root).

Each fixture is a real pasv session captured on lo with tcpdump; `fixtures/manifest.json` keeps
the SHA-256 of every original file and the names the listing showed, for test_pcap_fixtures.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import dpkt

from tests.diagnostics.capture import sessions_closed, tcpdump, wait_until
from tests.diagnostics.scenarios import Recorded, full_session, server_filter, simple_session
from tests.support.live import LiveServer, start_server

FIXTURES = Path(__file__).parent / "fixtures"

SCENARIOS: dict[str, tuple[str, Callable[[LiveServer], Recorded]]] = {
    "passive-full.pcap": ("127.61.62.63", full_session),
    "active.pcap": ("127.61.62.64", lambda s: simple_session(s, passive=False)),
    "epsv.pcap": ("127.61.62.65", lambda s: simple_session(s, passive=True, epsv=True)),
    "ipv6.pcapng": ("::1", lambda s: simple_session(s, passive=True)),
}


def to_pcapng(source: Path, target: Path) -> None:
    """Rewrite a pcap file as pcapng (tcpdump writes only pcap)."""
    with source.open("rb") as f, target.open("wb") as g:
        reader = dpkt.pcap.Reader(f)
        writer = dpkt.pcapng.Writer(g, snaplen=reader.snaplen, linktype=reader.datalink())
        for ts, buf in reader:
            writer.writepkt(buf, ts=ts)


def record(name: str, host: str, scenario: Callable[[LiveServer], Recorded]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", host=host)
        capture = Path(tmp) / "capture.pcap"
        try:
            with tcpdump(capture, server_filter(server)):
                recorded = scenario(server)
                wait_until(sessions_closed(capture, 1), "the end of the session")
        finally:
            server.stop()
        target = FIXTURES / name
        if name.endswith(".pcapng"):
            to_pcapng(capture, target)
        else:
            target.write_bytes(capture.read_bytes())
    return {
        "files": {p: hashlib.sha256(c).hexdigest() for p, c in recorded.files.items()},
        "listing_names": recorded.listing_names,
    }


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    manifest = {name: record(name, host, fn) for name, (host, fn) in SCENARIOS.items()}
    (FIXTURES / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    for name in SCENARIOS:
        print(f"{name}: {(FIXTURES / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
