"""An atomic upload whose commit fails (a directory appeared under its name meanwhile): the reply
keeps its byte count, no hidden file stays behind, and the quota accounting still runs."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import upload_taken, wait_for
from tests.support.live import USER, LiveServer, start_server

KIB = 1024


@pytest.fixture(params=["atomic", "atomic-resume"])
def atomic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", uploads={"mode": request.param})
    yield live
    live.stop()


def _hidden(live: LiveServer) -> list[str]:
    return sorted(n for _, _, names in os.walk(live.files) for n in names if n.startswith("."))


def test_a_commit_that_fails_leaves_nothing_and_says_how_far_it_got(atomic: LiveServer) -> None:
    atomic.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    atomic.reload_policy()
    ftp = atomic.login()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR race")
    try:
        conn.sendall(b"D" * 50_000)
        wait_for(upload_taken(atomic, 50_000))
        (atomic.files / "race").mkdir()  # another session's MKD, or another program
    finally:
        conn.close()
    reply = ftp.getline()
    assert reply[:1] in "45", reply
    assert reply.endswith("Transfer stopped after 50000 bytes."), reply
    assert _hidden(atomic) == []  # no .pasv-upload-* left in the directory
    assert (atomic.files / "race").is_dir()
    # the accounting ran: the quota's reservation for the failed upload was given back (90 KiB
    # still fit in 100), and the directory now under that name is not counted as a file
    assert ftp.storbinary("STOR other.bin", io.BytesIO(b"o" * 90 * KIB)).startswith("226")
    usage = atomic.policy.usage(USER)
    assert usage is not None and (usage.bytes_used, usage.files_used) == (90 * KIB, 1)
    assert ftp.sendcmd("NOOP").startswith("200")
