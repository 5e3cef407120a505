"""Interop fixtures: the server's debug session log is captured so a failing test shows it."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _session_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Record pasv's debug log (``pasv.session`` has every command and reply) for the report."""
    caplog.set_level(logging.DEBUG, logger="pasv")
    return caplog
