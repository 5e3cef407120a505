"""Certificate reload (what SIGHUP calls): new sessions get the new certificate, open ones go on."""

from __future__ import annotations

import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.server.tls import Certificate
from tests.support.ftps import Pki, ftps_login, implicit_login, make_pki, served_fingerprint
from tests.support.live import LiveServer, start_server


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def signed(tmp_path: Path, pki: Pki) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", tls={"certificate": str(pki.chain_file)})
    yield server
    server.stop()


def reload(live: LiveServer) -> Certificate | None:
    async def run() -> Certificate | None:
        return live.server.reload_tls()  # the function the SIGHUP handler calls

    return live.call(run())


def fingerprint_seen(ftp: object) -> str:
    sock = getattr(ftp, "sock", None)
    assert isinstance(sock, ssl.SSLSocket)
    return served_fingerprint(sock)


def test_reload_serves_the_new_certificate_and_keeps_open_sessions(
    signed: LiveServer, pki: Pki
) -> None:
    old = ftps_login(signed, pki.client_context())
    before = fingerprint_seen(old)
    new_fingerprint = pki.issue(pki.chain_file)
    assert new_fingerprint != before
    cert = reload(signed)
    assert cert is not None and cert.fingerprint.replace(":", "").lower() == new_fingerprint

    fresh = ftps_login(signed, pki.client_context())  # verified against the CA
    assert fingerprint_seen(fresh) == new_fingerprint
    assert fingerprint_seen(implicit_login(signed, pki.client_context())) == new_fingerprint

    # the session opened before the reload keeps its TLS session: data connections resume it
    data = b"still working" * 10_000
    old.storbinary("STOR after.bin", io.BytesIO(data))
    chunks: list[bytes] = []
    old.retrbinary("RETR after.bin", chunks.append)
    assert b"".join(chunks) == data
    assert fingerprint_seen(old) == before


def test_a_broken_certificate_file_keeps_the_current_one(signed: LiveServer, pki: Pki) -> None:
    served = fingerprint_seen(ftps_login(signed, pki.client_context()))
    pki.chain_file.write_text("not a certificate\n")
    assert reload(signed) is None
    assert fingerprint_seen(ftps_login(signed, pki.client_context())) == served


def test_reload_of_the_self_signed_certificate_picks_up_a_replacement(live: LiveServer) -> None:
    """Deleting the self-signed pair and reloading creates a new one (e.g. after a host rename)."""
    before = fingerprint_seen(ftps_login(live))
    for name in ("self-signed.pem", "self-signed.key"):
        (live.settings.tls_dir / name).unlink()
    cert = reload(live)
    assert cert is not None and cert.created and cert.self_signed
    assert fingerprint_seen(ftps_login(live)) != before
