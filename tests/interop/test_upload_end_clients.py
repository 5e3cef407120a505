"""How real clients end a TLS upload, measured: each must end with close_notify (or the strict
end-of-upload rule would refuse its uploads), over TLS 1.3 and TLS 1.2, explicit and implicit."""

from __future__ import annotations

import io
import logging
import ssl
from pathlib import Path

import aioftp
import pytest

from pasv.client import ClientOptions, FtpClient
from pasv.client.control import close_stream
from tests.interop.helpers import random_bytes, sha256_bytes, sha256_file
from tests.interop.test_tls_curl import curl, explicit_url, implicit_url
from tests.interop.test_tls_lftp import lftp, output
from tests.support.ftps import Pki, ftps_login
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SIZE = 1024 * 1024 + 333
ENDED = "TLS data ended with close_notify"
RAGGED = "TLS data ended without close_notify"


@pytest.fixture(params=["TLSv1_3", "TLSv1_2"])
def strict(request: pytest.FixtureRequest, signed: LiveServer) -> LiveServer:
    """TLS required, session reuse required, close_notify required (the defaults), at most
    the TLS version of the parameter."""
    assert signed.server.tls is not None
    signed.server.tls.context.maximum_version = getattr(ssl.TLSVersion, request.param)
    return signed


def ends(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "TLS data ended" in r.getMessage() and r.name == "pasv.transfer"
    ]


def measured(caplog: pytest.LogCaptureFixture, live: LiveServer, name: str, digest: str) -> None:
    assert sha256_file(live.files / name) == digest
    found = ends(caplog)
    assert found and all(ENDED in line for line in found), found
    assert not any(RAGGED in line for line in found)


@pytest.fixture
def upload(tmp_path: Path) -> tuple[Path, str]:
    data = random_bytes(SIZE, seed=31)
    path = tmp_path / "up.bin"
    path.write_bytes(data)
    return path, sha256_bytes(data)


def test_curl_explicit_and_implicit(
    strict: LiveServer, pki: Pki, upload: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv.transfer")
    path, digest = upload
    curl(explicit_url(strict, "e.bin"), pki, "--ssl-reqd", "-T", str(path))
    measured(caplog, strict, "e.bin", digest)
    curl(implicit_url(strict, "i.bin"), pki, "-T", str(path))
    measured(caplog, strict, "i.bin", digest)


def test_lftp(
    strict: LiveServer, pki: Pki, upload: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv.transfer")
    path, digest = upload
    done = lftp(f"ftp://127.0.0.1:{strict.port}", pki, "put up.bin -o l.bin", path.parent)
    assert done.returncode == 0, output(done)
    measured(caplog, strict, "l.bin", digest)


def test_python_ftplib(
    strict: LiveServer, pki: Pki, upload: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv.transfer")
    path, digest = upload
    ftp = ftps_login(strict, pki.client_context())
    with path.open("rb") as source:
        assert ftp.storbinary("STOR f.bin", source).startswith("226")
    measured(caplog, strict, "f.bin", digest)


async def test_aioftp(
    strict: LiveServer, pki: Pki, upload: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    """aioftp begins its data connection's TLS as soon as it connects, before the transfer
    command: the server answers that handshake at once (it used to wait for the command, and
    both sides waited for ever)."""
    caplog.set_level(logging.DEBUG, logger="pasv.transfer")
    path, digest = upload
    client = aioftp.Client(socket_timeout=10, connection_timeout=10, encoding="utf-8")
    await client.connect(strict.host, strict.port)
    try:
        await client.upgrade_to_tls(pki.client_context())
        await client.login(USER, PASSWORD)
        async with client.upload_stream("a.bin") as stream:
            await stream.write(path.read_bytes())
        got = bytearray()
        async with client.download_stream("a.bin") as stream:
            async for block in stream.iter_by_block():
                got += block
        assert sha256_bytes(bytes(got)) == digest
        assert [str(p.name) for p, _ in await client.list("/")] == ["a.bin"]
        await client.quit()
    finally:
        # aioftp's close() only starts the TLS close; a test that ended first would leave the
        # socket to the garbage collector, to warn in whichever test runs next
        await close_stream(client.stream.writer)
    measured(caplog, strict, "a.bin", digest)


async def test_pasv_client(
    strict: LiveServer, pki: Pki, upload: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv.transfer")
    path, digest = upload
    options = ClientOptions(tls=True, ssl_context=pki.client_context())
    async with FtpClient(options) as client:
        await client.connect(strict.host, strict.port)
        await client.login(USER, PASSWORD)
        await client.upload("p.bin", io.BytesIO(path.read_bytes()).read)
    measured(caplog, strict, "p.bin", digest)
