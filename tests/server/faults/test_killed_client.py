"""A client process killed in the middle of an upload, then a new session resumes it (REST+STOR
or APPE): the file ends up byte for byte what was meant (sha256)."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.helpers import retr_bytes, wait_for
from tests.support.live import PASSWORD, USER, LiveServer

SIZE = 4 * 1024 * 1024

# Uploads the first half of the file, says so, then hangs until it is killed.
_CHILD = """
import ftplib, sys, time
host, port, user, password, source, name = sys.argv[1:7]
ftp = ftplib.FTP(timeout=30)
ftp.connect(host, int(port))
ftp.login(user, password)
ftp.voidcmd("TYPE I")
data = open(source, "rb").read()
conn = ftp.transfercmd("STOR " + name)
conn.sendall(data[: len(data) // 2])
print("half", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("resume", ["REST", "APPE"])
def test_killed_upload_is_resumed_intact(live: LiveServer, tmp_path: Path, resume: str) -> None:
    payload = os.urandom(SIZE)
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    argv = [sys.executable, "-c", _CHILD, live.host, str(live.port), USER, PASSWORD]
    child = subprocess.Popen([*argv, str(source), "up.bin"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "half"
        target = live.files / "up.bin"
        wait_for(lambda: target.exists() and target.stat().st_size >= SIZE // 2)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        if child.stdout is not None:
            child.stdout.close()
    wait_for(lambda: not live.server.sessions)  # the server saw the end and wrote it all
    ftp = live.login()
    kept = ftp.size("up.bin")
    assert kept == SIZE // 2
    rest = io.BytesIO(payload[kept:])
    if resume == "REST":
        ftp.storbinary("STOR up.bin", rest, rest=kept)
    else:
        ftp.storbinary("APPE up.bin", rest)
    got = retr_bytes(ftp, "up.bin")
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(payload).hexdigest()
