"""Interop fixtures: the server's debug session log is captured so a failing test shows it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ftps import Pki, make_pki
from tests.support.live import LiveServer, start_server


@pytest.fixture(autouse=True)
def _session_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Record pasv's debug log (``pasv.session`` has every command and reply) for the report."""
    caplog.set_level(logging.DEBUG, logger="pasv")
    return caplog


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A throwaway CA and a server certificate signed by it (trustme)."""
    return make_pki(tmp_path / "pki")


@pytest.fixture
def signed(tmp_path: Path, pki: Pki) -> Iterator[LiveServer]:
    """The CA-signed certificate; TLS required for login and data; session reuse required."""
    server = start_server(
        tmp_path / "data",
        tls={
            "certificate": str(pki.chain_file),
            "require_login_tls": True,
            "require_data_tls": True,
        },
    )
    yield server
    server.stop()
