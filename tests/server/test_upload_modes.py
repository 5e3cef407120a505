"""Upload modes: standard (in place), atomic (renamed over the target when whole) and
atomic-resume (atomic, but a failed upload is kept to be resumed)."""

from __future__ import annotations

import ftplib
import io
import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.helpers import data_socket, retr_bytes, upload_taken, wait_for
from tests.support.live import USER, LiveServer, start_server

KIB = 1024


def server(tmp_path: Path, mode: str, **extra: object) -> LiveServer:
    return start_server(tmp_path / "data", uploads={"mode": mode, **extra})


@pytest.fixture(params=["atomic", "atomic-resume"])
def atomic(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    live = server(tmp_path, request.param)
    yield live
    live.stop()


def leftovers(live: LiveServer) -> list[str]:
    """What is on disk besides the files a test put there: temporaries would show here."""
    return sorted(
        name for _, _, names in os.walk(live.files) for name in names if name.startswith(".")
    )


def broken_upload(
    ftp: ftplib.FTP,
    name: str,
    data: bytes,
    command: str = "STOR",
    arrived: Callable[[], bool] | None = None,
) -> str:
    """Send ``data``, then ABOR with the data connection still open: the upload fails.
    With ``arrived``, the ABOR waits until it says some of the data reached the server."""
    conn = ftp.transfercmd(f"{command} {name}")
    try:
        conn.sendall(data)
        if arrived is not None:
            wait_for(arrived)
        ftp.putcmd("ABOR")
        first = ftp.getline()
        assert ftp.getline().startswith("226")  # ABOR's own reply
    finally:
        conn.close()
    return first


def test_atomic_upload_replaces_the_file_whole(atomic: LiveServer) -> None:
    target = atomic.files / "doc.txt"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    ftp = atomic.login()
    ftp.storbinary("STOR doc.txt", io.BytesIO(b"new contents"))
    assert target.read_bytes() == b"new contents"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the replaced file's mode carries over
    ftp.storbinary("STOR fresh.txt", io.BytesIO(b"f"))
    assert retr_bytes(ftp, "fresh.txt") == b"f"
    assert leftovers(atomic) == []


def test_atomic_failed_upload_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    live = server(tmp_path, "atomic")
    try:
        (live.files / "doc.txt").write_bytes(b"old")
        ftp = live.login()
        assert broken_upload(ftp, "doc.txt", b"n" * 50 * KIB).startswith("426")
        assert broken_upload(ftp, "new.txt", b"n" * 50 * KIB).startswith("426")
        assert (live.files / "doc.txt").read_bytes() == b"old"
        assert not (live.files / "new.txt").exists()
        assert leftovers(live) == []
        assert ftp.nlst() == ["doc.txt"]
    finally:
        live.stop()


def test_atomic_resume_keeps_a_failed_upload_to_resume(tmp_path: Path) -> None:
    live = server(tmp_path, "atomic-resume")
    try:
        body = os.urandom(300 * KIB)
        ftp = live.login()
        sent = body[: 100 * KIB]
        assert broken_upload(ftp, "big.bin", sent, arrived=upload_taken(live)).startswith("426")
        kept = (live.files / "big.bin").read_bytes()
        assert kept == body[: len(kept)] and kept  # a clean prefix, under the target's name
        assert leftovers(live) == []
        ftp.storbinary("STOR big.bin", io.BytesIO(body[len(kept) :]), rest=len(kept))
        assert (live.files / "big.bin").read_bytes() == body
    finally:
        live.stop()


def test_atomic_resume_keeps_the_old_file_when_no_byte_came(tmp_path: Path) -> None:
    """A data connection that never opens must not cost the previous version."""
    live = server(tmp_path, "atomic-resume")
    try:
        (live.files / "doc.txt").write_bytes(b"old")
        ftp = live.login()
        ftp.makepasv()  # a passive port nobody connects to
        ftp.putcmd("STOR doc.txt")
        ftp.putcmd("ABOR")
        assert ftp.getline().startswith("426")
        ftp.getline()
        assert (live.files / "doc.txt").read_bytes() == b"old"
    finally:
        live.stop()


def test_atomic_rest_and_appe_start_from_the_current_file(atomic: LiveServer) -> None:
    target = atomic.files / "log.txt"
    target.write_bytes(b"0123456789")
    ftp = atomic.login()
    ftp.storbinary("STOR log.txt", io.BytesIO(b"ABC"), rest=4)
    assert target.read_bytes() == b"0123ABC"
    ftp.storbinary("APPE log.txt", io.BytesIO(b"+tail"))
    assert target.read_bytes() == b"0123ABC+tail"
    with ftp.transfercmd("STOR log.txt", rest=3) as conn:  # during a resume: the old file
        conn.sendall(b"xyz")
        reader = atomic.login()
        assert retr_bytes(reader, "log.txt") == b"0123ABC+tail"
    ftp.voidresp()
    assert target.read_bytes() == b"012xyz"
    assert leftovers(atomic) == []


def test_atomic_stou_never_replaces(atomic: LiveServer) -> None:
    (atomic.files / "upload").write_bytes(b"taken")
    ftp = atomic.login()
    reply = ftp.storbinary("STOU upload", io.BytesIO(b"mine"))
    assert "stored as upload.1" in reply
    assert (atomic.files / "upload").read_bytes() == b"taken"
    assert (atomic.files / "upload.1").read_bytes() == b"mine"


def test_atomic_quota_stop_keeps_the_old_file_and_counts_once(atomic: LiveServer) -> None:
    atomic.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    atomic.reload_policy()
    ftp = atomic.login()
    ftp.storbinary("STOR a.bin", io.BytesIO(b"a" * 80 * KIB))
    ftp.storbinary("STOR a.bin", io.BytesIO(b"b" * 90 * KIB))  # replaces: 90 used, not 170
    usage = atomic.policy.usage(USER)
    assert usage is not None and usage.bytes_used == 90 * KIB and usage.files_used == 1
    conn = ftp.transfercmd("STOR a.bin")
    try:
        conn.sendall(b"c" * 300 * KIB)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server stopped the upload at the limit
    finally:
        conn.close()
    assert ftp.getline().startswith("552 ")
    assert (atomic.files / "a.bin").read_bytes() == b"b" * 90 * KIB
    usage = atomic.policy.usage(USER)
    assert usage is not None and usage.bytes_used == 90 * KIB and usage.files_used == 1
    assert leftovers(atomic) == []


def test_fsync_setting_uploads_as_usual(tmp_path: Path) -> None:
    for mode in ("standard", "atomic"):
        live = start_server(tmp_path / mode, uploads={"mode": mode, "fsync": True})
        try:
            ftp = live.login()
            ftp.storbinary("STOR f.bin", io.BytesIO(b"z" * 70 * KIB))
            assert (live.files / "f.bin").read_bytes() == b"z" * 70 * KIB
        finally:
            live.stop()


def test_temporary_names_are_never_listed_served_or_made(live: LiveServer) -> None:
    """Where the file system cannot make unnamed files, uploads in progress have names that
    begin with .pasv-upload-: they are no client's to see or touch."""
    (live.files / ".pasv-upload-1-abc").write_bytes(b"half")
    (live.files / "real.txt").write_bytes(b"r")
    ftp = live.login()
    assert ftp.nlst() == ["real.txt"]
    assert ".pasv-upload" not in "\n".join(name for name, _ in ftp.mlsd())
    lines: list[str] = []
    ftp.retrlines("LIST -a", lines.append)
    assert ".pasv-upload" not in "\n".join(lines)
    reserved = "553 Names beginning with .pasv-upload- are reserved for uploads in progress."
    for action in (
        lambda: retr_bytes(ftp, ".pasv-upload-1-abc"),
        lambda: ftp.storbinary("STOR .pasv-upload-2-x", io.BytesIO(b"x")),
        lambda: ftp.mkd(".pasv-upload-dir"),
        lambda: ftp.delete(".pasv-upload-1-abc"),
    ):
        with pytest.raises(ftplib.error_perm) as caught:
            action()
        assert str(caught.value) == reserved


def test_a_plain_reset_in_atomic_mode_leaves_nothing(tmp_path: Path) -> None:
    live = server(tmp_path, "atomic")
    try:
        ftp = live.login()
        conn = data_socket(ftp)
        ftp.putcmd("STOR r.bin")
        assert ftp.getline().startswith("150")
        conn.sendall(b"r" * 64 * KIB)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        assert ftp.getline().startswith("426")
        assert not (live.files / "r.bin").exists()
        assert leftovers(live) == []
    finally:
        live.stop()


@pytest.mark.parametrize("mode", ["standard", "atomic", "atomic-resume"])
def test_rest_past_the_end_of_an_upload_is_refused_in_every_mode(tmp_path: Path, mode: str) -> None:
    """Resuming at 999 a file of 10 bytes would leave 989 zeros that never arrived, and a 226
    vouching for them; a download past the end is refused the same way."""
    live = server(tmp_path, mode)
    try:
        target = live.files / "part.bin"
        target.write_bytes(b"0123456789")
        ftp = live.login()
        for name in ("part.bin", "missing.bin"):
            with pytest.raises(ftplib.error_perm, match=r"^501 REST offset 999 is beyond"):
                ftp.storbinary(f"STOR {name}", io.BytesIO(b"x"), rest=999)
        assert target.read_bytes() == b"0123456789"
        assert sorted(p.name for p in live.files.iterdir()) == ["part.bin"]  # nothing made
        ftp.storbinary("STOR part.bin", io.BytesIO(b"AB"), rest=10)  # at the end: a resume
        assert target.read_bytes() == b"0123456789AB"
        assert ftp.sendcmd("NOOP").startswith("200")  # the session goes on
    finally:
        live.stop()
