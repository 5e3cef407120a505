"""One fast transfer never holds the event loop: other sessions are answered meanwhile."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.server.helpers import WAIT, wait_for
from tests.support.live import LiveServer

SIZE = 256 * 1024 * 1024


def test_other_sessions_are_answered_during_a_fast_download(live: LiveServer) -> None:
    with open(live.files / "big.bin", "wb") as f:  # sparse: no disk, the page cache serves it
        f.truncate(SIZE)
    downloader, other = live.login(), live.login()
    received = 0
    started = threading.Event()

    def download() -> None:
        nonlocal received
        conn = downloader.transfercmd("RETR big.bin")
        buf = bytearray(1 << 20)
        with conn:
            while n := conn.recv_into(buf):
                received += n
                started.set()
        downloader.voidresp()

    thread = threading.Thread(target=download)
    thread.start()
    assert started.wait(WAIT)
    assert other.voidcmd("NOOP").startswith("200")
    at_reply = received
    thread.join(60)
    assert received == SIZE
    assert at_reply < SIZE  # the NOOP did not wait for the download to finish


def test_other_sessions_are_answered_during_a_fast_upload(live: LiveServer, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    with open(source, "wb") as f:  # sparse, sent with sendfile: a sender at kernel speed
        f.truncate(SIZE)
    uploader, other = live.login(), live.login()
    conn = uploader.transfercmd("STOR up.bin")
    done = threading.Event()

    def upload() -> None:
        with conn, open(source, "rb") as f:
            conn.sendfile(f)
        done.set()

    thread = threading.Thread(target=upload)
    thread.start()
    wait_for(lambda: live.server.uploads == 1 and _uploaded(live) > 0)
    assert other.voidcmd("NOOP").startswith("200")
    answered_before_end = _uploaded(live) < SIZE
    thread.join(60)
    uploader.voidresp()
    assert os.path.getsize(live.files / "up.bin") == SIZE
    assert answered_before_end


def _uploaded(live: LiveServer) -> int:
    try:
        return os.path.getsize(live.files / "up.bin")
    except FileNotFoundError:
        return 0
