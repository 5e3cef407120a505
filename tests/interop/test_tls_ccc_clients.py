"""CCC with real clients: curl --ftp-ssl-ccc (both modes) and lftp ftp:ssl-use-ccc.

After CCC a PROT P data connection must still resume the control connection's TLS session
(tls.require_session_reuse). curl in active CCC mode keeps the session; curl's default passive
mode drops it without a TLS close (so OpenSSL forgets it), and lftp forgets it with the control
connection's TLS: those two need clear data (PROT C) or require_session_reuse = false.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.helpers import sha256_file, write_random
from tests.interop.test_tls_curl import curl, explicit_url
from tests.interop.test_tls_lftp import lftp, output
from tests.server.helpers import wait_for
from tests.support.ftps import Pki
from tests.support.live import LiveServer, start_server

pytestmark = pytest.mark.interop

SIZE = 1024 * 1024 + 7
CCC_OK = "< 200 CCC ok; the control connection continues in clear."


def ccc_server(directory: Path, pki: Pki, **tls: object) -> LiveServer:
    settings = {"certificate": str(pki.chain_file), "allow_ccc": True, **tls}
    return start_server(directory, tls=settings)


@pytest.fixture
def strict(tmp_path: Path, pki: Pki) -> Iterator[LiveServer]:
    """CCC allowed; data connections must resume the control session (the default)."""
    server = ccc_server(tmp_path / "strict", pki)
    yield server
    server.stop()


@pytest.fixture
def relaxed(tmp_path: Path, pki: Pki) -> Iterator[LiveServer]:
    """CCC allowed; data connections may start new TLS sessions."""
    server = ccc_server(tmp_path / "relaxed", pki, require_session_reuse=False)
    yield server
    server.stop()


def test_curl_active_ccc_download_and_upload_with_prot_p(
    strict: LiveServer, pki: Pki, tmp_path: Path
) -> None:
    args = ("--ssl-reqd", "--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", "active")
    source = write_random(strict.files / "down.bin", SIZE, seed=5)
    local = tmp_path / "down.bin"
    _, log = curl(explicit_url(strict, "down.bin"), pki, *args, "-o", str(local))
    assert sha256_file(local) == source
    assert "> PROT P" in log and CCC_OK in log
    after = log[log.index(CCC_OK) :]
    assert "> RETR down.bin" in after  # sent in clear, after CCC
    upload = tmp_path / "up.bin"
    digest = write_random(upload, SIZE, seed=6)
    curl(explicit_url(strict, "up.bin"), pki, *args, "-T", str(upload))
    assert sha256_file(strict.files / "up.bin") == digest


def test_curl_passive_ccc_with_clear_data(strict: LiveServer, pki: Pki, tmp_path: Path) -> None:
    """curl's default CCC mode: it reads our close_notify and goes on in clear at once."""
    source = write_random(strict.files / "down.bin", SIZE, seed=7)
    local = tmp_path / "down.bin"
    url = explicit_url(strict, "down.bin")
    _, log = curl(url, pki, "--ftp-ssl-control", "--ftp-ssl-ccc", "-o", str(local))
    assert sha256_file(local) == source
    assert "> PROT C" in log and CCC_OK in log


def test_curl_passive_ccc_with_prot_p_needs_reuse_relaxed(
    strict: LiveServer,
    relaxed: LiveServer,
    pki: Pki,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for server in (strict, relaxed):
        write_random(server.files / "down.bin", SIZE, seed=8)
    local = tmp_path / "down.bin"
    url = explicit_url(strict, "down.bin")
    code, log = curl(url, pki, "--ssl-reqd", "--ftp-ssl-ccc", "-o", str(local), ok=False)
    assert code != 0 and CCC_OK in log  # curl gives up before it reads our 522
    # curl may exit before the server has sent (and logged) that reply: wait for it
    wait_for(lambda: "522 TLS session reuse required" in caplog.text)
    curl(explicit_url(relaxed, "down.bin"), pki, "--ssl-reqd", "--ftp-ssl-ccc", "-o", str(local))
    assert sha256_file(local) == sha256_file(relaxed.files / "down.bin")


def test_lftp_ssl_use_ccc_with_clear_data(strict: LiveServer, pki: Pki, tmp_path: Path) -> None:
    source = write_random(strict.files / "down.bin", SIZE, seed=9)
    upload = tmp_path / "up.bin"
    digest = write_random(upload, SIZE, seed=10)
    commands = (
        "set ftp:ssl-use-ccc yes; set ftp:ssl-protect-data no; set ftp:ssl-protect-list no; "
        "get down.bin; put up.bin; ls"
    )
    done = lftp(f"ftp://{strict.host}:{strict.port}", pki, commands, tmp_path)
    log = output(done)
    assert done.returncode == 0, log
    assert "CCC ok" in log and "PROT C" in log
    assert sha256_file(tmp_path / "down.bin") == source
    assert sha256_file(strict.files / "up.bin") == digest


def test_lftp_forgets_the_session_at_ccc_so_prot_p_data_is_refused(
    strict: LiveServer, pki: Pki, tmp_path: Path
) -> None:
    """lftp offers no session on data connections after CCC; without reuse its uploads also
    lose their tail (seen with pyftpdlib too), so the refusal is the safe outcome."""
    write_random(strict.files / "down.bin", SIZE, seed=11)
    done = lftp(
        f"ftp://{strict.host}:{strict.port}", pki, "set ftp:ssl-use-ccc yes; get down.bin", tmp_path
    )
    log = output(done)
    assert done.returncode != 0 and "CCC ok" in log
    assert "522 TLS session reuse required" in log
    assert not (tmp_path / "down.bin").exists() or (tmp_path / "down.bin").stat().st_size == 0
