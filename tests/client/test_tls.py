"""FTPS: explicit (AUTH TLS) and implicit (ftps://), certificate checks, data TLS session reuse."""

from __future__ import annotations

import ftplib
import os
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import ClientOptions, FtpClient, tls_context
from tests.client.conftest import passive_block, pasv_peer
from tests.client.peers import Peer, PyftpdServer, Vsftpd, pyftpd_tls, vsftpd_unavailable
from tests.support.ftps import ftps_login
from tests.support.live import PASSWORD, USER, LiveServer, start_server

runner = CliRunner()
Certs = tuple[Path, Path, Path]


@pytest.fixture
def pyftpd_tls_peer(tmp_path: Path, certs: Certs) -> Iterator[Peer]:
    root = tmp_path / "tls-root"
    root.mkdir()
    server: PyftpdServer = pyftpd_tls(root, certs[1])
    yield server.peer()
    server.stop()


def _vsftpd(certs: Certs, implicit: bool) -> Vsftpd:
    reason = vsftpd_unavailable()
    if reason:
        pytest.skip(reason)
    return Vsftpd(passive_block(), tls=(certs[1], certs[2]), implicit=implicit)


@pytest.fixture
def vsftpd_tls(certs: Certs) -> Iterator[Vsftpd]:
    server = _vsftpd(certs, implicit=False)
    yield server
    server.stop()


@pytest.fixture
def vsftpd_implicit(certs: Certs) -> Iterator[Vsftpd]:
    server = _vsftpd(certs, implicit=True)
    yield server
    server.stop()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--retries", "0"], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_explicit_tls_with_our_ca(pyftpd_tls_peer: Peer, certs: Certs, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    pyftpd_tls_peer.put("secret.bin", data)
    got = tmp_path / "secret.bin"
    code, text = cli(
        "get", pyftpd_tls_peer.url("/secret.bin"), str(got), "--tls", "--ca", str(certs[0]), "-v"
    )
    assert code == 0, text
    assert got.read_bytes() == data
    assert "AUTH TLS" in text and "PROT P" in text and "TLS connection established" in text


def test_untrusted_certificate_is_refused_unless_insecure(pyftpd_tls_peer: Peer) -> None:
    pyftpd_tls_peer.put("x.txt", b"x")
    code, text = cli("ls", pyftpd_tls_peer.url("/"), "--tls")
    assert code == 4
    assert "certificate" in text.lower()
    code, text = cli("ls", pyftpd_tls_peer.url("/"), "--tls", "--insecure")
    assert (code, text.split()) == (0, ["x.txt"])


def test_plain_login_refused_by_a_tls_only_server_is_not_retried(pyftpd_tls_peer: Peer) -> None:
    code, text = cli("ls", pyftpd_tls_peer.url("/"))
    assert code == 3, text
    assert "SSL/TLS required" in text or "TLS" in text


async def test_data_connections_resume_the_control_session(
    pyftpd_tls_peer: Peer, certs: Certs
) -> None:
    pyftpd_tls_peer.put("a.txt", b"hello")
    options = ClientOptions(tls=True, ssl_context=tls_context(certs[0]))
    async with FtpClient(options) as client:
        await client.connect(pyftpd_tls_peer.host, pyftpd_tls_peer.port)
        await client.login(pyftpd_tls_peer.user, pyftpd_tls_peer.password)
        assert [f.name for f in await client.listdir("/")] == ["a.txt"]
        assert client.last_data_session_reused


def test_vsftpd_requiring_session_reuse(vsftpd_tls: Vsftpd, certs: Certs, tmp_path: Path) -> None:
    peer = vsftpd_tls.peer()
    data = os.urandom(150_000)
    peer.put("big.bin", data)
    # The control: Python's ftplib does not resume the session, and this vsftpd refuses that.
    ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=str(certs[0])), timeout=10)
    ftp.connect(peer.host, peer.port)
    ftp.login(peer.user, peer.password)
    ftp.prot_p()
    with pytest.raises((ftplib.Error, OSError, EOFError)):
        ftp.nlst("/")
    ftp.close()

    code, text = cli(
        "get", peer.url("/big.bin"), str(tmp_path / "big.bin"), "--tls", "--ca", str(certs[0])
    )
    assert code == 0, text
    assert (tmp_path / "big.bin").read_bytes() == data
    up = tmp_path / "up.bin"
    up.write_bytes(data[::-1])
    code, text = cli("put", str(up), peer.url("/up.bin"), "--tls", "--ca", str(certs[0]))
    assert code == 0, text
    assert (peer.root / "up.bin").read_bytes() == data[::-1]


def test_implicit_ftps_url(vsftpd_implicit: Vsftpd, certs: Certs) -> None:
    peer = vsftpd_implicit.peer()
    peer.put("implicit.txt", b"tls from the first byte")
    code, text = cli("cat", peer.url("/implicit.txt", scheme="ftps"), "--ca", str(certs[0]))
    assert code == 0, text
    assert "tls from the first byte" in text


@pytest.fixture
def pasv_tls(tmp_path: Path, certs: Certs) -> Iterator[LiveServer]:
    """pasv with a certificate from the test CA (it requires data TLS session reuse by default)."""
    server = start_server(tmp_path / "data", tls={"certificate": str(certs[1])})
    yield server
    server.stop()


def test_pasv_explicit_tls_requiring_session_reuse(
    pasv_tls: LiveServer, certs: Certs, tmp_path: Path
) -> None:
    peer = pasv_peer(pasv_tls)
    data = os.urandom(300_000)
    peer.put("in.bin", data)
    # The control: a client that starts a new TLS session per data connection is refused.
    ftp = ftps_login(pasv_tls, ssl.create_default_context(cafile=str(certs[0])), reuse=False)
    with pytest.raises((ftplib.Error, OSError, EOFError)):
        ftp.nlst("/")

    got = tmp_path / "got.bin"
    tls = ("--tls", "--ca", str(certs[0]))
    code, text = cli("get", peer.url("/in.bin"), str(got), *tls, "-v")
    assert code == 0, text
    assert got.read_bytes() == data
    assert "TLS connection established" in text and "Command:  PROT P" in text
    code, text = cli("put", str(got), peer.url("/back.bin"), *tls)
    assert code == 0, text
    assert (peer.root / "back.bin").read_bytes() == data
    code, text = cli("ls", peer.url("/"), *tls)
    assert (code, sorted(text.split())) == (0, ["back.bin", "in.bin"])


async def test_pasv_data_connections_resume_the_session(pasv_tls: LiveServer, certs: Certs) -> None:
    (pasv_tls.files / "a.txt").write_bytes(b"hello")
    options = ClientOptions(tls=True, ssl_context=tls_context(certs[0]))
    async with FtpClient(options) as client:
        await client.connect(pasv_tls.host, pasv_tls.port)
        await client.login(USER, PASSWORD)
        assert [f.name for f in await client.listdir("/")] == ["a.txt"]
        assert client.last_data_session_reused


def test_pasv_implicit_ftps(pasv_tls: LiveServer, certs: Certs) -> None:
    host, port = pasv_tls.server.implicit_addresses[0]
    peer = replace(pasv_peer(pasv_tls), host=host, port=port)
    peer.put("implicit.txt", b"tls from the first byte")
    code, text = cli("cat", peer.url("/implicit.txt", scheme="ftps"), "--ca", str(certs[0]), "-v")
    assert code == 0, text
    assert "tls from the first byte" in text
    assert "(implicit TLS)" in text and "Command:  AUTH TLS" not in text
    code, text = cli("cat", peer.url("/implicit.txt", scheme="ftps"))  # not our CA: refused
    assert code == 4 and "certificate" in text.lower(), text


def test_untrusted_certificate_is_not_retried_and_says_what_to_do(pyftpd_tls_peer: Peer) -> None:
    """The same certificate comes back on every try: no retry waits, and the way out is named."""
    result = runner.invoke(
        app, ["ls", pyftpd_tls_peer.url("/"), "--tls", "--retry-delay", "0"], catch_exceptions=False
    )
    text = result.stdout + result.stderr
    assert result.exit_code == 4, text
    assert "retry" not in text
    assert "certificate was not accepted" in text and "--ca FILE" in text and "--insecure" in text
