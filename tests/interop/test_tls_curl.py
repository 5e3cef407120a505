"""curl against pasv over FTPS: explicit (--ssl-reqd) and implicit (ftps://), verified."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import require, sha256_file, url_host, write_random
from tests.support.ftps import Pki
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SIZE = 2 * 1024 * 1024 + 321


def curl(url: str, pki: Pki, *args: str, ok: bool = True) -> tuple[int, str]:
    """Run curl -v with the test CA; return its exit code and its verbose log."""
    command = [require("curl"), "-sS", "-v", "--max-time", "30", "--cacert", str(pki.ca_file)]
    command += ["-u", f"{USER}:{PASSWORD}", *args, url]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    log = done.stderr.decode("utf-8", "replace")
    if ok:
        assert done.returncode == 0, f"curl exited {done.returncode}:\n{log}"
    return done.returncode, log


def explicit_url(live: LiveServer, path: str = "") -> str:
    return f"ftp://{url_host(live)}:{live.port}/{path}"


def implicit_url(live: LiveServer, path: str = "") -> str:
    host, port = live.server.implicit_addresses[0]
    return f"ftps://{host}:{port}/{path}"


def test_explicit_ssl_reqd_download_upload_list_resume(
    signed: LiveServer, pki: Pki, tmp_path: Path
) -> None:
    source = write_random(signed.files / "down.bin", SIZE, seed=3)
    local = tmp_path / "down.bin"
    _, log = curl(explicit_url(signed, "down.bin"), pki, "--ssl-reqd", "-o", str(local))
    assert sha256_file(local) == source
    for sent in ("> AUTH ", "> PBSZ 0", "> PROT P"):
        assert sent in log
    # resume: keep the first half, fetch the rest with -C -
    with local.open("r+b") as handle:
        handle.truncate(SIZE // 2)
    _, log = curl(explicit_url(signed, "down.bin"), pki, "--ssl-reqd", "-C", "-", "-o", str(local))
    assert f"> REST {SIZE // 2}" in log
    assert sha256_file(local) == source

    upload = tmp_path / "up.bin"
    digest = write_random(upload, SIZE, seed=4)
    curl(explicit_url(signed, "up.bin"), pki, "--ssl-reqd", "-T", str(upload))
    assert sha256_file(signed.files / "up.bin") == digest

    listing = tmp_path / "listing.txt"
    curl(explicit_url(signed), pki, "--ssl-reqd", "--list-only", "-o", str(listing))
    assert sorted(listing.read_text().split()) == ["down.bin", "up.bin"]


def test_implicit_ftps_download_and_upload(signed: LiveServer, pki: Pki, tmp_path: Path) -> None:
    source = write_random(signed.files / "down.bin", SIZE, seed=5)
    local = tmp_path / "down.bin"
    curl(implicit_url(signed, "down.bin"), pki, "-o", str(local))
    assert sha256_file(local) == source
    upload = tmp_path / "up.bin"
    digest = write_random(upload, SIZE, seed=6)
    _, log = curl(implicit_url(signed, "up.bin"), pki, "-T", str(upload))
    assert "> AUTH" not in log  # implicit: TLS from the start, no AUTH command
    assert sha256_file(signed.files / "up.bin") == digest


def test_plain_curl_is_refused_where_tls_is_required(signed: LiveServer, pki: Pki) -> None:
    code, log = curl(explicit_url(signed), pki, "--list-only", ok=False)
    assert code != 0
    assert "< 530 TLS required" in log


def test_curl_rejects_a_certificate_its_ca_did_not_sign(live: LiveServer, pki: Pki) -> None:
    """The default self-signed certificate is not trusted by a verifying client."""
    code, log = curl(explicit_url(live), pki, "--ssl-reqd", "--list-only", ok=False)
    assert code == 60, log  # CURLE_PEER_FAILED_VERIFICATION


def test_curl_verifies_the_self_signed_certificate_given_as_its_ca(
    live: LiveServer, tmp_path: Path
) -> None:
    """What the README tells users: --cacert with the printed file verifies 127.0.0.1."""
    ca = live.settings.tls_dir / "self-signed.pem"
    served = write_random(live.files / "f.bin", 100_000, seed=9)
    local = tmp_path / "f.bin"
    command = [require("curl"), "-sS", "--ssl-reqd", "--cacert", str(ca), "-u"]
    command += [f"{USER}:{PASSWORD}", "-o", str(local), explicit_url(live, "f.bin")]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert sha256_file(local) == served
