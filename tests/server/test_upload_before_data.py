"""An upload whose data connection never comes up changes nothing: the file keeps its bytes.

Opening an upload's file refuses what it must before the 150 (a missing folder, REST beyond
the end), but the cut a STOR makes waits for the data connection and its TLS: a TLS handshake
that fails (522), a session-reuse refusal (522), or no connection within the wait (425) leaves
the old file whole, no new file behind, and the quota's usage and the file's owner as they were.
"""

from __future__ import annotations

import contextlib
import ftplib
import io
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from pasv.storage.localio import read_owner
from tests.server.helpers import WAIT, Raw
from tests.support.ftps import ftps_login
from tests.support.live import PASSWORD, USER, LiveServer, start_server

OLD = b"the old content, which must survive\n" * 100

# (command, REST offset): every upload verb in place
UPLOADS = [("STOR", None), ("APPE", None), ("STOR", 100)]
UPLOAD_IDS = ["stor", "appe", "rest-stor"]


def _open_passive(ftp: ftplib.FTP) -> socket.socket:
    host, port = ftp.makepasv()
    return socket.create_connection((host, port), timeout=WAIT)


def _start(ftp: ftplib.FTP, command: str, rest: int | None) -> None:
    """REST (when given), then the upload command; its 150."""
    if rest is not None:
        assert ftp.sendcmd(f"REST {rest}").startswith("350 ")
    assert ftp.sendcmd(command).startswith("150 ")


def _garbage(raw: socket.socket) -> None:
    raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def _closed(raw: socket.socket) -> None:
    raw.close()


def _final(ftp: ftplib.FTP) -> str:
    with pytest.raises(ftplib.Error) as caught:
        ftp.getresp()
    return str(caught.value)


@pytest.mark.parametrize(("verb", "rest"), UPLOADS, ids=UPLOAD_IDS)
@pytest.mark.parametrize("spoil", [_garbage, _closed], ids=["garbage", "closed"])
def test_a_failed_data_handshake_leaves_the_file_whole(
    live: LiveServer, verb: str, rest: int | None, spoil: Callable[[socket.socket], None]
) -> None:
    (live.files / "keep.txt").write_bytes(OLD)
    ftp = ftps_login(live)
    ftp.voidcmd("TYPE I")
    raw = _open_passive(ftp)
    try:
        _start(ftp, f"{verb} keep.txt", rest)
        spoil(raw)
        reply = _final(ftp)
    finally:
        raw.close()
    assert reply.startswith("522 TLS handshake on the data connection failed: "), reply
    assert "Transfer stopped after 0 bytes." in reply
    assert (live.files / "keep.txt").read_bytes() == OLD
    ftp.voidcmd("NOOP")  # the session goes on


def test_a_handshake_begun_before_the_command_that_fails_leaves_the_file_whole(
    live: LiveServer,
) -> None:
    """A client that speaks first on the data connection (as aioftp does) gets its handshake
    at once; when that fails, the STOR that follows still changes nothing."""
    (live.files / "keep.txt").write_bytes(OLD)
    ftp = ftps_login(live)
    raw = _open_passive(ftp)
    try:
        _garbage(raw)
        with contextlib.suppress(ConnectionResetError):
            raw.recv(1)  # the server's TLS alert, close or reset: the handshake has failed
        _start(ftp, "STOR keep.txt", None)
        reply = _final(ftp)
    finally:
        raw.close()
    assert reply.startswith("522 TLS handshake on the data connection failed: "), reply
    assert (live.files / "keep.txt").read_bytes() == OLD


@pytest.mark.parametrize(("verb", "rest"), UPLOADS, ids=UPLOAD_IDS)
def test_a_data_connection_refused_for_no_session_reuse_leaves_the_file_whole(
    live: LiveServer, verb: str, rest: int | None
) -> None:
    (live.files / "keep.txt").write_bytes(OLD)
    ftp = ftps_login(live, reuse=False)
    ftp.voidcmd("TYPE I")
    raw = _open_passive(ftp)
    try:
        _start(ftp, f"{verb} keep.txt", rest)
        with ftp.context.wrap_socket(raw, server_hostname=ftp.host) as tls:  # a new session
            reply = _final(ftp)
            assert tls.recv(1) == b""  # the server ended it with close_notify
    finally:
        raw.close()
    assert reply.startswith("522 TLS session reuse required"), reply
    assert (live.files / "keep.txt").read_bytes() == OLD


def _short_wait(live: LiveServer) -> None:
    live.policy.set_option("", "data_timeout", 0.3)
    live.reload_policy()


@pytest.mark.parametrize(("verb", "rest"), UPLOADS, ids=UPLOAD_IDS)
def test_no_data_connection_within_the_wait_leaves_the_file_whole(
    live: LiveServer, verb: str, rest: int | None
) -> None:
    (live.files / "keep.txt").write_bytes(OLD)
    _short_wait(live)
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    ftp.makepasv()  # and never connect
    if rest is not None:
        ftp.sendcmd(f"REST {rest}")
    with pytest.raises(ftplib.error_temp) as caught:
        ftp.sendcmd(f"{verb} keep.txt")
    assert str(caught.value).startswith("425 Can't open data connection: nothing connected to ")
    assert (live.files / "keep.txt").read_bytes() == OLD


@pytest.mark.parametrize(("verb", "rest"), UPLOADS, ids=UPLOAD_IDS)
def test_abor_while_waiting_for_the_data_connection_leaves_the_file_whole(
    live: LiveServer, verb: str, rest: int | None
) -> None:
    (live.files / "keep.txt").write_bytes(OLD)
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("TYPE I").code == 200
        assert raw.cmd("PASV").code == 227  # and never connect
        if rest is not None:
            assert raw.cmd(f"REST {rest}").code == 350
        raw.send(f"{verb} keep.txt\r\n".encode())
        assert raw.cmd("STAT").code == 213  # answered while the upload waits: it has begun
        raw.send(b"ABOR\r\n")
        aborted = raw.reply()
        assert aborted.code == 426
        assert "before the data connection opened" in aborted.text
        assert raw.reply().code == 226
    assert (live.files / "keep.txt").read_bytes() == OLD


@pytest.mark.parametrize("verb", ["STOR", "APPE", "STOU"])
def test_an_upload_that_never_started_leaves_no_new_file(live: LiveServer, verb: str) -> None:
    _short_wait(live)
    ftp = live.login()
    ftp.makepasv()
    with pytest.raises(ftplib.error_temp, match=r"^425 "):
        ftp.sendcmd(f"{verb} new.txt")
    assert list(live.files.iterdir()) == []


@pytest.mark.parametrize("mode", ["atomic", "atomic-resume"])
@pytest.mark.parametrize(("verb", "rest"), UPLOADS, ids=UPLOAD_IDS)
def test_atomic_uploads_that_never_started_leave_the_file_whole(
    tmp_path: Path, mode: str, verb: str, rest: int | None
) -> None:
    live = start_server(tmp_path / "data", uploads={"mode": mode})
    try:
        (live.files / "keep.txt").write_bytes(OLD)
        ftp = ftps_login(live)
        ftp.voidcmd("TYPE I")
        raw = _open_passive(ftp)
        try:
            _start(ftp, f"{verb} keep.txt", rest)
            _garbage(raw)
            assert _final(ftp).startswith("522 ")
        finally:
            raw.close()
        assert sorted(p.name for p in live.files.iterdir()) == ["keep.txt"]
        assert (live.files / "keep.txt").read_bytes() == OLD
    finally:
        live.stop()


def test_an_upload_that_never_started_counts_nothing(live: LiveServer) -> None:
    """Under a quota: the failed STOR of the user's own file and of another user's leave the
    usage of both, and who uploaded each file, as they were."""
    live.add_user("bob", "bob-pw")
    for name in ("bob", USER):
        live.policy.set_option(f"user:{name}", "quota_bytes", 1_000_000)
    live.reload_policy()
    for name, who, password in (("mine.txt", USER, PASSWORD), ("theirs.txt", "bob", "bob-pw")):
        ftp = live.login(who, password)
        ftp.storbinary(f"STOR {name}", io.BytesIO(OLD))
        ftp.quit()
    assert read_owner(str(live.files / "theirs.txt")) == "bob"
    before = {name: live.policy.usage(name) for name in ("bob", USER)}
    ftp = ftps_login(live)
    for name in ("mine.txt", "theirs.txt"):
        raw = _open_passive(ftp)
        try:
            _start(ftp, f"STOR {name}", None)
            _garbage(raw)
            assert _final(ftp).startswith("522 ")
        finally:
            raw.close()
        assert (live.files / name).read_bytes() == OLD
    assert {name: live.policy.usage(name) for name in ("bob", USER)} == before
    assert read_owner(str(live.files / "mine.txt")) == USER
    assert read_owner(str(live.files / "theirs.txt")) == "bob"
