"""A byte quota across `pasv serve --workers 2`: one user's uploads in both workers share its
room (the bytes in flight live in the shared tables)."""

from __future__ import annotations

import subprocess

from tests.cli import support
from tests.cli.support import Pasv
from tests.cli.test_files_in_use_workers import _session_on
from tests.cli.test_policy_workers import (
    USER,
    _start,
    pasv,  # noqa: F401 - the fixture
)
from tests.server.helpers import send_until_stopped

stop = support.stop
KIB = 1024


def test_uploads_in_two_workers_share_the_quota(
    pasv: Pasv,  # noqa: F811
    stop: list[subprocess.Popen[str]],
) -> None:
    pasv.ok("user", "set", USER, f"quota_bytes={100 * KIB}")
    port, pids = _start(pasv, stop, workers=2)
    first_pid, other_pid = sorted(pids)
    first = _session_on(port, {first_pid})
    second = _session_on(port, {other_pid})
    conns = []
    for index, ftp in enumerate((first, second)):
        ftp.voidcmd("TYPE I")
        conns.append(ftp.transfercmd(f"STOR w{index}.bin"))  # both rooms: all 100 KiB
    replies = [
        send_until_stopped(ftp, conn, b"w" * 90 * KIB)
        for ftp, conn in zip((first, second), conns, strict=True)
    ]
    assert replies[0].startswith("226 ")
    assert replies[1] == "552 Exceeded storage allocation. Transfer stopped after 10240 bytes."
    files = pasv.data / "files"
    assert (files / "w0.bin").stat().st_size == 90 * KIB
    assert not (files / "w1.bin").exists()
    first.close()
    second.close()
