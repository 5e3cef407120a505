"""`pasv pcap` on captures of real pasv sessions, recorded on lo with tcpdump during the test."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from pasv.diagnostics.pcap.report import Analysis
from tests.conftest import HAS_IPV6
from tests.diagnostics.capture import capture_skip_reason, sessions_closed, tcpdump, wait_until
from tests.diagnostics.pcap_checks import check_capture
from tests.diagnostics.scenarios import (
    Recorded,
    full_session,
    moded_session,
    server_filter,
    simple_session,
)
from tests.support.live import PASSWORD, USER, LiveServer, start_server

pytestmark = pytest.mark.skipif(
    capture_skip_reason() is not None, reason=str(capture_skip_reason())
)


def unique_loopback() -> str:
    """An address in 127/8 that no other test (or engineer) on this machine uses now."""
    rng = random.Random(os.getpid() * 1_000_003 + random.randrange(1 << 30))
    return f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}"


def record(
    tmp_path: Path, host: str, scenario: Callable[[LiveServer], Recorded]
) -> tuple[Path, Recorded]:
    server = start_server(tmp_path / "data", host=host)
    capture = tmp_path / "session.pcap"
    try:
        with tcpdump(capture, server_filter(server)):
            recorded = scenario(server)
            wait_until(sessions_closed(capture, 1), "the end of the session in the capture")
    finally:
        server.stop()
    return capture, recorded


def credentials_seen(analysis: Analysis) -> None:
    [session] = analysis.sessions
    assert session.user == USER and session.passwords == [PASSWORD]


def test_passive_session_with_every_kind_of_transfer(tmp_path: Path) -> None:
    capture, recorded = record(tmp_path, unique_loopback(), full_session)
    analysis = check_capture(capture, recorded, tmp_path / "out")
    credentials_seen(analysis)
    verbs = [t.verb for t in analysis.sessions[0].transfers]
    assert {"RETR", "STOR", "APPE", "STOU", "NLST"} <= set(verbs)
    rests = [t.rest for t in analysis.sessions[0].transfers if t.path == "/segmented.bin"]
    assert rests == [0, 4000, 8000]


def test_mode_z_and_mode_b_session(tmp_path: Path) -> None:
    capture, recorded = record(tmp_path, unique_loopback(), moded_session)
    analysis = check_capture(capture, recorded, tmp_path / "out")
    modes = [(t.verb, t.mode) for t in analysis.sessions[0].transfers]
    assert modes == [("RETR", "Z"), ("NLST", "Z"), ("STOR", "B")]


def test_active_session(tmp_path: Path) -> None:
    capture, recorded = record(
        tmp_path, unique_loopback(), lambda s: simple_session(s, passive=False)
    )
    analysis = check_capture(capture, recorded, tmp_path / "out")
    forms = {t.announcement.form for t in analysis.sessions[0].transfers if t.announcement}
    assert forms == {"PORT"}


def test_epsv_session(tmp_path: Path) -> None:
    capture, recorded = record(
        tmp_path, unique_loopback(), lambda s: simple_session(s, passive=True, epsv=True)
    )
    analysis = check_capture(capture, recorded, tmp_path / "out")
    forms = {t.announcement.form for t in analysis.sessions[0].transfers if t.announcement}
    assert forms == {"229"}


@pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
def test_ipv6_session(tmp_path: Path) -> None:
    capture, recorded = record(tmp_path, "::1", lambda s: full_session(s, passive=True))
    analysis = check_capture(capture, recorded, tmp_path / "out")
    assert ":" in analysis.sessions[0].conn.server[0]


@pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
def test_ipv6_active_session(tmp_path: Path) -> None:
    capture, recorded = record(tmp_path, "::1", lambda s: simple_session(s, passive=False))
    analysis = check_capture(capture, recorded, tmp_path / "out")
    forms = {t.announcement.form for t in analysis.sessions[0].transfers if t.announcement}
    assert forms == {"EPRT"}
