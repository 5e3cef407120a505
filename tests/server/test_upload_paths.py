"""Uploads are written inline while the disk is fast, and from a thread once a write is slow."""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from pasv.server import transfers
from tests.support.live import LiveServer


@pytest.mark.parametrize("slow_after", [60.0, -1.0], ids=["inline-writes", "threaded-writes"])
def test_upload_is_intact_on_either_write_path(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch, slow_after: float
) -> None:
    # -1: every write counts as slow, so the upload switches to threaded writes after the first
    monkeypatch.setattr(transfers, "_SLOW_WRITE", slow_after)
    payload = os.urandom(5 * 1024 * 1024 + 123)
    ftp = live.login()
    ftp.storbinary("STOR blob.bin", io.BytesIO(payload), blocksize=64 * 1024)
    stored = (live.files / "blob.bin").read_bytes()
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(payload).hexdigest()
