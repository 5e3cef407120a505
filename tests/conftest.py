"""Shared fixtures: a live pasv server on loopback (IPv4, and IPv6 where the host has it)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, start_server
from tests.support.postgres import PgCluster, started_cluster
from tests.support.seaweed import Weed, start_weed

# `pasv serve` started by a test is one process unless the test asks for workers: tests that
# kill, signal or count a node's process (cluster, pcap, CLI) mean that one process.
# tests/cli/test_workers_auto.py removes this to test the default ("auto").
os.environ.setdefault("PASV_SERVER_WORKERS", "1")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


HAS_IPV6 = _has_ipv6_loopback()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data")
    yield server
    server.stop()


@pytest.fixture(params=["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def live_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    if request.param == "::1" and not HAS_IPV6:
        pytest.skip("this machine has no IPv6 loopback")
    server = start_server(tmp_path / "data", host=request.param)
    yield server
    server.stop()


@pytest.fixture
def anon(tmp_path: Path) -> Iterator[LiveServer]:
    """A server with anonymous login on."""
    server = start_server(tmp_path / "data", anonymous={"enabled": True})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL server for this test process."""
    yield from started_cluster()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh database on it, for one test."""
    return pg_cluster.create_database()


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Weed]:
    """One SeaweedFS per test process; each test uses its own key prefix in the bucket."""
    server = start_weed(tmp_path_factory.mktemp("weed"))
    yield server
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()  # weed may ignore SIGTERM while it flushes: SIGKILL by PID
