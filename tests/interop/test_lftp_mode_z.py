"""lftp with ``ftp:use-mode-z`` against pasv: downloads and uploads deflated, in clear and TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import require, sha256_file, write_random
from tests.support.live import PASSWORD, USER, LiveServer
from tests.support.modelog import measured

pytestmark = pytest.mark.interop

PLAIN = "set ftp:ssl-allow no"
TLS = "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:verify-certificate no"
BASE = (
    "set ftp:passive-mode on; set net:max-retries 1; set net:timeout 10; "
    "set cmd:fail-exit yes; set ftp:use-mode-z yes"
)


def text(path: Path, lines: int) -> str:
    """A text file that deflate shrinks, as logs and sources are."""
    path.write_bytes(
        b"".join(b"%08d INFO request served in %d ms\n" % (i, i % 97) for i in range(lines))
    )
    return sha256_file(path)


def lftp(live: LiveServer, commands: str, cwd: Path, tls: bool = False) -> str:
    script = f"{BASE}; {TLS if tls else PLAIN}; {commands}; bye"
    done = subprocess.run(
        [require("lftp"), "-d", "-e", script, "-u", f"{USER},{PASSWORD}",
         f"ftp://{live.host}:{live.port}"],
        cwd=cwd, capture_output=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, f"lftp exited {done.returncode}:\n{output}"
    return output


@pytest.mark.parametrize("tls", [False, True], ids=["clear", "tls"])
def test_lftp_mode_z_download_and_upload(
    live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, tls: bool
) -> None:
    served = text(live.files / "server.log", 60000)
    local = tmp_path / "local"
    local.mkdir()
    sent = text(local / "client.log", 50000)
    log = lftp(live, "get server.log -o got.log; put client.log", local, tls=tls)
    assert "MODE Z" in log
    assert ("---> AUTH TLS" in log) == tls
    assert sha256_file(local / "got.log") == served
    assert sha256_file(live.files / "client.log") == sent
    moved = measured(caplog)
    for key in (("RETR", "/server.log"), ("STOR", "/client.log")):
        size, wire = moved[key]
        assert size == (live.files / key[1][1:]).stat().st_size
        assert wire < size // 4  # it really went deflated


def test_lftp_reads_the_stored_blocks_of_incompressible_data(
    live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Random bytes (as in archives) switch the server's deflater to stored blocks after 1 MiB
    and back to compressing for a window every 16 MiB: lftp's zlib still reads one stream."""
    served = write_random(live.files / "noise.bin", 20 * 1024 * 1024 + 77, seed=18)
    lftp(live, "get noise.bin -o noise.bin", tmp_path)
    assert sha256_file(tmp_path / "noise.bin") == served
    size, wire = measured(caplog)[("RETR", "/noise.bin")]
    assert size < wire < size * 1.001
