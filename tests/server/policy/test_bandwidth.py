"""Bandwidth limits: token buckets shared by all sessions of a user, accurate within 10%."""

from __future__ import annotations

import io
import os
import threading
import time

from tests.server.helpers import retr_bytes
from tests.support.live import USER, LiveServer

RATE = 2 * 1024 * 1024  # bytes per second
SECONDS = 5.0


def test_two_downloads_of_one_user_share_its_limit(live: LiveServer) -> None:
    size = int(RATE * SECONDS / 2)
    for name in ("a.bin", "b.bin"):
        (live.files / name).write_bytes(os.urandom(size))
    live.policy.set_option(f"user:{USER}", "download_rate", RATE)
    live.reload_policy()
    sessions = [live.login(), live.login()]
    results: dict[str, bytes] = {}

    def fetch(ftp: object, name: str) -> None:
        results[name] = retr_bytes(ftp, name)  # type: ignore[arg-type]

    threads = [
        threading.Thread(target=fetch, args=(ftp, name))
        for ftp, name in zip(sessions, ("a.bin", "b.bin"), strict=True)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert results == {name: (live.files / name).read_bytes() for name in ("a.bin", "b.bin")}
    rate = 2 * size / elapsed
    assert abs(rate - RATE) / RATE < 0.10, f"{rate / 1e6:.2f} MB/s against {RATE / 1e6:.2f}"


def test_upload_limit(live: LiveServer) -> None:
    payload = os.urandom(int(RATE * SECONDS))
    live.policy.set_option(f"user:{USER}", "upload_rate", RATE)
    live.reload_policy()
    ftp = live.login()
    started = time.monotonic()
    ftp.storbinary("STOR up.bin", io.BytesIO(payload), blocksize=256 * 1024)
    elapsed = time.monotonic() - started
    assert (live.files / "up.bin").read_bytes() == payload
    rate = len(payload) / elapsed
    assert abs(rate - RATE) / RATE < 0.10, f"{rate / 1e6:.2f} MB/s against {RATE / 1e6:.2f}"
