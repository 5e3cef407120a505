"""Fixtures: the servers the client is tested against, each with an account and a root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.client.peers import Peer, PyftpdServer, Vsftpd, vsftpd_unavailable
from tests.support.live import PASSWORD, USER, LiveServer, start_server
from tests.support.ports import ephemeral_range, passive_base, worker_index


def passive_block() -> tuple[int, int]:
    """vsftpd's passive ports: above the block tests/support/live.py gives pasv.

    Never inside the ephemeral range: the suite leaves thousands of client sockets in
    TIME_WAIT there, and vsftpd tries only 9 random ports of its range before it dies with
    "500 OOPS: vsf_sysutil_bind" (with half the block taken, one EPSV in 500 failed).
    """
    index = worker_index()
    low = passive_base() + 8000 + 100 * index
    ephemeral_low, ephemeral_high = ephemeral_range()
    if low + 99 >= ephemeral_low and low <= ephemeral_high:
        low = ephemeral_low - 800 + 100 * index  # just below the kernel's range
    return low, low + 99


def pasv_peer(server: LiveServer) -> Peer:
    return Peer("pasv", server.host, server.port, USER, PASSWORD, server.files)


@pytest.fixture
def pasv(tmp_path: Path) -> Iterator[Peer]:
    server = start_server(tmp_path / "data")
    yield pasv_peer(server)
    server.stop()


@pytest.fixture
def pyftpd(tmp_path: Path) -> Iterator[Peer]:
    root = tmp_path / "pyftpd-root"
    root.mkdir()
    server = PyftpdServer(root)
    yield server.peer()
    server.stop()


@pytest.fixture
def vsftpd() -> Iterator[Vsftpd]:
    reason = vsftpd_unavailable()
    if reason:
        pytest.skip(reason)
    server = Vsftpd(passive_block())
    yield server
    server.stop()


@pytest.fixture(params=["pasv", "pyftpdlib", "vsftpd"])
def peer(request: pytest.FixtureRequest) -> Peer:
    """Each server in turn."""
    if request.param == "pasv":
        found: Peer = request.getfixturevalue("pasv")
        return found
    if request.param == "pyftpdlib":
        found = request.getfixturevalue("pyftpd")
        return found
    server: Vsftpd = request.getfixturevalue("vsftpd")
    return server.peer()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def certs(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(CA file, server certificate chain, server key) for 127.0.0.1."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, chain, key = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    return ca_file, chain, key
