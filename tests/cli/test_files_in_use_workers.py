"""Files in use across `pasv serve --workers 2`: a claim made in one worker refuses in the other,
and dies with its worker."""

from __future__ import annotations

import ftplib
import io
import os
import signal
import socket
import subprocess

import pytest
from tests.cli import support
from tests.cli.support import Pasv
from tests.cli.test_policy_workers import (
    PASSWORD,
    USER,
    _connect,
    _pid,
    _poll,
    _start,
    pasv,  # noqa: F401 - the fixture
)

stop = support.stop

BUSY = "450 File busy: same.bin is being uploaded by another session."


def _session_on(port: int, wanted: set[int]) -> ftplib.FTP:
    """A logged-in session served by one of the ``wanted`` workers (bounded tries)."""
    for _ in range(60):
        ftp = _connect(port)
        ftp.login(USER, PASSWORD)
        if _pid(ftp) in wanted:
            return ftp
        ftp.close()
    raise AssertionError(f"no session landed on {wanted}")


def _stored(ftp: ftplib.FTP, data: bytes) -> bool:
    """STOR same.bin: True when stored, False when refused as busy (any other reply fails)."""
    try:
        ftp.storbinary("STOR same.bin", io.BytesIO(data))
    except ftplib.error_temp as exc:
        assert str(exc) == BUSY
        return False
    return True


def _upload_held_elsewhere(
    admin: Pasv,
    stop: list[subprocess.Popen[str]],
) -> tuple[ftplib.FTP, socket.socket, ftplib.FTP, int]:
    """Two workers; a session uploading same.bin (150 seen, bytes sent), its data connection,
    a session on the other worker, and the uploading worker's pid."""
    port, pids = _start(admin, stop, workers=2)
    first = _connect(port)
    first.login(USER, PASSWORD)
    holder = _pid(first)
    conn = first.transfercmd("STOR same.bin")
    conn.sendall(b"a" * 50_000)
    return first, conn, _session_on(port, pids - {holder}), holder


def test_an_upload_in_one_worker_is_busy_in_the_other(
    pasv: Pasv,  # noqa: F811
    stop: list[subprocess.Popen[str]],
) -> None:
    first, conn, other, _ = _upload_held_elsewhere(pasv, stop)
    assert not _stored(other, b"b")
    for action in (
        lambda: other.delete("same.bin"),
        lambda: other.sendcmd("RNFR same.bin"),
        lambda: other.retrbinary("RETR same.bin", lambda _: None),
    ):
        with pytest.raises(ftplib.error_temp) as refused:
            action()
        assert str(refused.value) == BUSY
    conn.close()
    assert first.voidresp().startswith("226 Transfer complete: 50000 bytes")
    other.storbinary("STOR same.bin", io.BytesIO(b"b"))  # released across workers too
    assert (pasv.data / "files" / "same.bin").read_bytes() == b"b"
    first.close()
    other.close()


def test_a_killed_worker_releases_its_uploads(
    pasv: Pasv,  # noqa: F811
    stop: list[subprocess.Popen[str]],
) -> None:
    first, conn, other, holder = _upload_held_elsewhere(pasv, stop)
    assert not _stored(other, b"b"), "not refused while the upload runs"
    os.kill(holder, signal.SIGKILL)
    conn.close()

    _poll(lambda: _stored(other, b"after"), "the dead worker's claim ends", timeout=10)
    assert (pasv.data / "files" / "same.bin").read_bytes() == b"after"
    other.close()
    first.close()
