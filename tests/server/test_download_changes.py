"""A download of a file that is rewritten meanwhile (same size, other bytes) ends in 451, not 226;
one replaced whole by an atomic upload (or on S3 by any upload), or deleted, still ends in 226
with the old bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.support.live import LiveServer, start_server
from tests.support.seaweed import Weed, unique_prefix

SIZE = 48 * 1024 * 1024  # far more than the socket buffers: the server cannot be done yet


def _download_around(live: LiveServer, type_: str, change: object) -> tuple[bytes, str]:
    """Start RETR of big.bin, run ``change()`` once the first bytes came, read the rest."""
    ftp = live.login()
    ftp.sendcmd(f"TYPE {type_}")
    conn = ftp.transfercmd("RETR big.bin")
    try:
        data = conn.recv(65536)
        assert callable(change)
        change()
        while chunk := conn.recv(1 << 20):
            data += chunk
    finally:
        conn.close()
    reply = ftp.getline()
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()
    return data, reply


@pytest.mark.parametrize("type_", ["I", "A"], ids=["sendfile", "read-and-send"])
def test_a_file_rewritten_in_place_during_its_download_is_a_451(
    live: LiveServer, type_: str
) -> None:
    target = live.files / "big.bin"
    target.write_bytes(b"a" * SIZE)

    def rewrite() -> None:  # another program: same size, other bytes, in place
        with open(target, "r+b") as file:
            file.write(b"b" * SIZE)

    data, reply = _download_around(live, type_, rewrite)
    assert len(data) == SIZE  # nothing in the size gives it away
    assert reply.startswith("451 big.bin changed while it was being sent"), reply
    assert "Download it again." in reply
    assert reply.endswith(f"Transfer stopped after {SIZE} bytes.")


@pytest.mark.parametrize("type_", ["I", "A"], ids=["sendfile", "read-and-send"])
def test_a_file_that_grows_during_its_download_is_a_451_that_says_it_grew(
    live: LiveServer, type_: str
) -> None:
    """A log being written: the size at the start goes out, and the reply says the file grew
    (an append cannot be told from a rewrite that made it longer, so no 226)."""
    target = live.files / "big.bin"
    target.write_bytes(b"a" * SIZE)

    def append() -> None:
        with open(target, "ab") as file:
            file.write(b"z" * 1000)

    data, reply = _download_around(live, type_, append)
    assert data == b"a" * SIZE  # what it had when the download started, no more
    assert reply.startswith(
        f"451 big.bin grew while it was being sent ({SIZE} bytes when it was opened, "
        f"{SIZE + 1000} now)"
    ), reply
    assert "Download it again once it no longer grows" in reply


def test_a_stor_by_another_session_during_a_download_is_a_451_for_the_download(
    live: LiveServer,
) -> None:
    """The default (standard) upload mode writes in place: the download that was running
    cannot end in 226."""
    (live.files / "big.bin").write_bytes(b"a" * SIZE)

    def upload() -> None:
        writer = live.login()
        reply = writer.storbinary("STOR big.bin", io.BytesIO(b"b" * SIZE))
        assert reply.startswith("226"), reply
        writer.quit()

    _, reply = _download_around(live, "I", upload)
    # changed, or (when a send step fell in the instant the STOR had emptied it) became shorter
    assert reply.startswith("451 big.bin "), reply
    assert "while it was being sent" in reply


@pytest.mark.parametrize("how", ["atomic-upload", "deleted"])
def test_a_file_replaced_whole_or_deleted_during_its_download_still_ends_in_226(
    tmp_path: Path, how: str
) -> None:
    live = start_server(tmp_path / "data", uploads={"mode": "atomic"})
    try:
        target = live.files / "big.bin"
        target.write_bytes(b"a" * SIZE)

        def replace() -> None:
            if how == "deleted":
                os.unlink(target)
                return
            writer = live.login()
            assert writer.storbinary("STOR big.bin", io.BytesIO(b"new")).startswith("226")
            writer.quit()

        data, reply = _download_around(live, "I", replace)
        assert reply.startswith("226"), reply
        assert data == b"a" * SIZE  # the old file, whole
    finally:
        live.stop()


def test_an_s3_object_replaced_during_its_download_ends_in_226_with_the_old_bytes(
    tmp_path: Path, weed: Weed
) -> None:
    """A STOR replaces an S3 object whole, and the GET that serves the download streams one
    version: the old bytes whole, never a mix (the read handle's ``changed()`` is False)."""
    live = start_server(tmp_path / "data", storage=weed.storage_settings(unique_prefix()))
    try:
        writer = live.login()
        assert writer.storbinary("STOR big.bin", io.BytesIO(b"a" * SIZE)).startswith("226")

        def replace() -> None:
            assert writer.storbinary("STOR big.bin", io.BytesIO(b"b" * SIZE)).startswith("226")

        data, reply = _download_around(live, "I", replace)
        assert reply.startswith("226"), reply
        assert data == b"a" * SIZE
        assert _download_around(live, "I", lambda: None)[0] == b"b" * SIZE
    finally:
        live.stop()
