"""lftp against pasv over FTPS: ftp:ssl-force, the certificate verified against a trustme CA."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import require, sha256_file, write_random
from tests.support.ftps import Pki
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

BASE = (
    "set ftp:passive-mode on; set net:max-retries 1; set net:timeout 10; "
    "set net:reconnect-interval-base 1; set cmd:fail-exit yes; "
    "set ftp:ssl-force true; set ftp:ssl-protect-data true; set ftp:ssl-protect-list true; "
    "set ssl:verify-certificate yes; set ssl:check-hostname yes"
)


def lftp(url: str, pki: Pki, commands: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    script = f"{BASE}; set ssl:ca-file {pki.ca_file}; {commands}; bye"
    return subprocess.run(
        [require("lftp"), "-d", "-e", script, "-u", f"{USER},{PASSWORD}", url],
        cwd=cwd,
        capture_output=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def output(done: subprocess.CompletedProcess[bytes]) -> str:
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def test_put_get_ls_with_ssl_force_and_verified_certificate(
    signed: LiveServer, pki: Pki, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    local.mkdir()
    digest = write_random(local / "up.bin", 3 * 1024 * 1024 + 5, seed=11)
    served = write_random(signed.files / "down.bin", 2 * 1024 * 1024 + 9, seed=12)
    done = lftp(
        f"ftp://127.0.0.1:{signed.port}", pki, "put up.bin; get down.bin -o got.bin; cls -1", local
    )
    log = output(done)
    assert done.returncode == 0, log
    assert "AUTH TLS" in log and "PROT P" in log
    assert sha256_file(signed.files / "up.bin") == digest
    assert sha256_file(local / "got.bin") == served
    assert "down.bin" in done.stdout.decode() and "up.bin" in done.stdout.decode()


def test_implicit_ftps_url(signed: LiveServer, pki: Pki, tmp_path: Path) -> None:
    served = write_random(signed.files / "down.bin", 1024 * 1024 + 1, seed=13)
    host, port = signed.server.implicit_addresses[0]
    done = lftp(f"ftps://{host}:{port}", pki, "get down.bin -o got.bin", tmp_path)
    assert done.returncode == 0, output(done)
    assert sha256_file(tmp_path / "got.bin") == served


def test_lftp_refuses_an_untrusted_certificate(live: LiveServer, pki: Pki, tmp_path: Path) -> None:
    """The default self-signed certificate fails verification against another CA: no login."""
    done = lftp(f"ftp://127.0.0.1:{live.port}", pki, "cls -1", tmp_path)
    assert done.returncode != 0
    assert "certificate is not trusted" in output(done).lower()
