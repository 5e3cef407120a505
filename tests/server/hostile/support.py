"""Shared by the hostile-input tests: "another session is served normally" and memory bounds."""

from __future__ import annotations

import ftplib
import hashlib
import io
import itertools
import os
from pathlib import Path

from tests.support.live import PASSWORD, USER, LiveServer

_names = itertools.count()


def assert_served(live: LiveServer, source: str | None = None) -> None:
    """A fresh session logs in, uploads, lists and downloads a file intact, then quits."""
    ftp = ftplib.FTP(timeout=10, encoding="utf-8")
    try:
        ftp.connect(live.host, live.port, source_address=(source, 0) if source else None)
        ftp.login(USER, PASSWORD)
        name = f"served-{os.getpid()}-{next(_names)}.bin"
        payload = os.urandom(50_000)
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
        assert name in ftp.nlst()
        out = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", out.write)
        assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(payload).digest()
        ftp.delete(name)
        assert ftp.voidcmd("NOOP").startswith("200")
    finally:
        ftp.close()


def rss_kib() -> int:
    """Resident memory of this process (the server runs in a thread of it), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def max_pending(live: LiveServer) -> int:
    """The largest unfinished line any session of the server holds, in bytes."""
    return max((control.pending for control in list(live.server.sessions)), default=0)


RSS_SLACK_KIB = 64 * 1024  # generous: the test process also holds the clients and pytest
