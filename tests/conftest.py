"""Shared fixtures: a live pasv server on loopback (IPv4, and IPv6 where the host has it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, start_server
from tests.support.postgres import PgCluster, started_cluster


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
