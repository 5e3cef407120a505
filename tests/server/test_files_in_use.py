"""Files in use: a file being uploaded cannot be uploaded, read (in place), deleted, renamed or
have its directory removed by another session; the claim ends with the upload, however."""

from __future__ import annotations

import ftplib
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import retr_bytes, wait_for
from tests.support.live import LiveServer, start_server

BUSY = "450 File busy: {name} is being uploaded by another session."


def upload_started(live: LiveServer, name: str) -> tuple[ftplib.FTP, socket.socket]:
    """A session whose upload of ``name`` is under way (150 seen, some bytes sent)."""
    ftp = live.login()
    conn = ftp.transfercmd(f"STOR {name}")
    conn.sendall(b"p" * 10_000)
    return ftp, conn


def refused(action: object) -> str:
    with pytest.raises(ftplib.error_temp) as caught:
        action()  # type: ignore[operator]
    return str(caught.value)


def test_second_upload_retr_dele_rnfr_rnto_rmd_are_busy(live: LiveServer) -> None:
    (live.files / "dir").mkdir()
    (live.files / "other.txt").write_bytes(b"o")
    first, conn = upload_started(live, "dir/u.bin")
    second = live.login()
    busy = BUSY.format(name="u.bin")
    assert refused(lambda: second.storbinary("STOR dir/u.bin", io.BytesIO(b"x"))) == busy
    assert refused(lambda: second.storbinary("APPE dir/u.bin", io.BytesIO(b"x"))) == busy
    assert refused(lambda: retr_bytes(second, "dir/u.bin")) == busy
    assert refused(lambda: second.delete("dir/u.bin")) == busy
    assert refused(lambda: second.sendcmd("RNFR dir/u.bin")) == busy
    second.sendcmd("RNFR other.txt")
    assert refused(lambda: second.sendcmd("RNTO dir/u.bin")) == busy
    assert refused(lambda: second.rmd("dir")) == (
        "450 Directory busy: a file in dir is being uploaded."
    )
    conn.sendall(b"q" * 10_000)
    conn.close()
    assert first.voidresp().startswith("226 Transfer complete: 20000 bytes")
    # the upload is over: every one of them works now
    second.storbinary("APPE dir/u.bin", io.BytesIO(b"!"))
    assert retr_bytes(second, "dir/u.bin") == b"p" * 10_000 + b"q" * 10_000 + b"!"
    second.delete("dir/u.bin")
    second.rmd("dir")


def test_other_files_are_not_busy(live: LiveServer) -> None:
    (live.files / "neighbour.bin").write_bytes(b"n" * 100)
    first, conn = upload_started(live, "u.bin")
    second = live.login()
    second.storbinary("STOR v.bin", io.BytesIO(b"v"))
    assert retr_bytes(second, "neighbour.bin") == b"n" * 100
    second.delete("neighbour.bin")
    conn.close()
    first.voidresp()


def test_the_uploading_session_itself_is_refused_a_second_claim(live: LiveServer) -> None:
    """The claim is the file's, not the session's: the same user in another session is
    refused too."""
    first, conn = upload_started(live, "u.bin")
    again = live.login()
    assert refused(lambda: again.storbinary("STOR u.bin", io.BytesIO(b"x"))).startswith("450 ")
    conn.close()
    first.voidresp()


def test_a_killed_session_releases_its_claim(live: LiveServer) -> None:
    first, conn = upload_started(live, "u.bin")
    first.sock.close()  # the control connection dies mid-upload
    conn.close()
    other = live.login()

    def stored() -> bool:
        try:
            other.storbinary("STOR u.bin", io.BytesIO(b"mine"))
        except ftplib.error_temp as exc:
            assert str(exc) == BUSY.format(name="u.bin")
            return False
        return True

    wait_for(stored)
    assert (live.files / "u.bin").read_bytes() == b"mine"


def test_the_busy_text_is_the_operators(live: LiveServer) -> None:
    live.policy.set_message("file_busy", "In use: {name}.")
    live.reload_policy()
    first, conn = upload_started(live, "u.bin")
    second = live.login()
    assert refused(lambda: second.delete("u.bin")) == "450 In use: u.bin."
    conn.close()
    first.voidresp()


@pytest.fixture
def atomic(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", uploads={"mode": "atomic"})
    yield server
    server.stop()


def test_atomic_mode_serves_the_previous_version_during_an_upload(atomic: LiveServer) -> None:
    (atomic.files / "u.bin").write_bytes(b"old version")
    first, conn = upload_started(atomic, "u.bin")
    second = atomic.login()
    assert retr_bytes(second, "u.bin") == b"old version"
    assert second.nlst() == ["u.bin"]
    assert second.size("u.bin") == len(b"old version")
    assert refused(lambda: second.delete("u.bin")) == BUSY.format(name="u.bin")
    conn.close()
    assert first.voidresp().startswith("226 ")
    assert retr_bytes(second, "u.bin") == b"p" * 10_000


def test_mkd_of_a_name_being_uploaded_is_busy(atomic: LiveServer) -> None:
    """An atomic upload's name is free until the commit: a directory made there meanwhile
    would make the upload fail at its end."""
    first, conn = upload_started(atomic, "new.bin")
    second = atomic.login()
    assert refused(lambda: second.mkd("new.bin")) == BUSY.format(name="new.bin")
    assert second.mkd("other") == "/other"  # other names are not held
    conn.close()
    assert first.voidresp().startswith("226 ")
    assert (atomic.files / "new.bin").read_bytes() == b"p" * 10_000
