"""Plain binary uploads are spliced into the file; when one write is slow (the disk throttles)
the rest of the upload goes on from a worker thread, and the file is whole either way."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os

import pytest

from pasv.server import spliced
from tests.support.live import LiveServer


def _upload(ftp: ftplib.FTP, name: str, data: bytes) -> str:
    return ftp.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=256 * 1024)


def test_a_large_upload_is_whole(live: LiveServer) -> None:
    data = os.urandom(8 * 1024 * 1024 + 17)
    ftp = live.login()
    assert _upload(ftp, "big.bin", data).startswith("226")
    stored = (live.files / "big.bin").read_bytes()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


def test_a_slow_write_hands_the_rest_to_a_thread(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spliced, "_SLOW_WRITE", 0.0)  # every write counts as slow
    data = os.urandom(3 * 1024 * 1024 + 5)
    ftp = live.login()
    assert _upload(ftp, "slow.bin", data).startswith("226")
    assert (live.files / "slow.bin").read_bytes() == data


def test_a_resumed_upload_is_spliced_after_the_offset(live: LiveServer) -> None:
    data = os.urandom(3 * 1024 * 1024)
    (live.files / "part.bin").write_bytes(data[:1_000_000])
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    reply = ftp.storbinary("STOR part.bin", io.BytesIO(data[1_000_000:]), rest=1_000_000)
    assert reply.startswith("226")
    assert (live.files / "part.bin").read_bytes() == data
