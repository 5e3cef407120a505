"""lftp in active mode (ftp:passive-mode off) over IPv4 and IPv6: a download and an upload go
through PORT/EPRT, with no fallback to passive mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import random_bytes, require, url_host
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SETTINGS = (
    "set ftp:passive-mode off; set net:max-retries 1; set net:timeout 10; "
    "set cmd:fail-exit yes; set ftp:ssl-allow no"
)


def test_lftp_active_mode(live_any: LiveServer, tmp_path: Path) -> None:
    binary = require("lftp")
    payload = random_bytes(300_000, seed=5)
    (live_any.files / "down.bin").write_bytes(payload)
    (tmp_path / "up.bin").write_bytes(payload[::-1])
    script = f"{SETTINGS}; get down.bin -o got.bin; put up.bin; bye"
    done = subprocess.run(
        [
            binary,
            "-d",
            "-e",
            script,
            "-u",
            f"{USER},{PASSWORD}",
            f"ftp://{url_host(live_any)}:{live_any.port}",
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, output
    assert (tmp_path / "got.bin").read_bytes() == payload
    assert (live_any.files / "up.bin").read_bytes() == payload[::-1]
    active = "<--- 200 EPRT command successful." if ":" in live_any.host else "<--- 200 PORT"
    assert output.count(active) == 2, output
    assert "---> EPSV" not in output and "---> PASV" not in output, output
