"""The end of a TLS upload: only a close_notify (or a size proven by ALLO) makes a 226.

Each test drives the data connection by hand (ftplib for the control connection, a Python TLS
socket resuming its session for the data), so each ending happens exactly as written.
"""

from __future__ import annotations

import contextlib
import ftplib
import select
import socket
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import WAIT
from tests.server.test_logs import xferlog
from tests.server.test_tls import payload
from tests.support.ftps import ftps_login, insecure_context
from tests.support.live import USER, LiveServer, start_server

SIZE = 4 * 1024 * 1024 + 5
TICKET = ssl._TLSMessageType.NEWSESSION_TICKET  # type: ignore[attr-defined]


def tls13() -> ssl.SSLContext:
    return insecure_context(minimum_version=ssl.TLSVersion.TLSv1_3)


def open_data(ftp: ftplib.FTP_TLS, command: str) -> ssl.SSLSocket:
    """Send ``command`` (150 expected) and return its data connection, resuming the control
    connection's TLS session."""
    raw, _ = ftplib.FTP.ntransfercmd(ftp, command)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    return ftp.context.wrap_socket(
        raw,
        server_hostname=ftp.host,
        session=ftp.sock.session,  # type: ignore[attr-defined]
    )


def reset(sock: socket.socket) -> None:
    """Close abortively: the kernel drops what is unsent and answers with RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def stored(live: LiveServer, name: str) -> bytes:
    return (live.files / name).read_bytes()


@pytest.fixture
def slow_reader(live: LiveServer) -> LiveServer:
    """The server reads uploads at 4 MB/s: a client's last bytes are still in its own buffers
    when it closes."""
    live.policy.set_option(f"user:{USER}", "upload_rate", 4_000_000)
    live.reload_policy()
    return live


def test_no_session_ticket_on_data_connections(live: LiveServer) -> None:
    """TLS 1.3 tickets go out on the control connection only: a client that uploads and never
    reads has nothing unread on its data connection when it closes (an unread ticket turns
    that close into a reset), and every data connection still resumes the control session."""
    seen: list[tuple[str, object]] = []
    ctx = tls13()

    def watch(
        _conn: object, direction: str, _v: object, _t: object, kind: object, _: object
    ) -> None:
        seen.append((direction, kind))

    ctx._msg_callback = watch  # type: ignore[attr-defined]
    ftp = ftps_login(live, ctx)
    ftp.voidcmd("NOOP")  # the control connection's tickets are read with a reply
    assert ("read", TICKET) in seen
    for round_ in range(3):
        seen.clear()
        data = open_data(ftp, f"STOR t{round_}.bin")
        assert data.session_reused
        data.sendall(b"x" * 1000)
        data.unwrap()  # waits for the server's close_notify: everything it sent is read
        data.close()
        assert ftp.voidresp().startswith("226")
        assert ("read", TICKET) not in seen


class CurlLikeClose:
    """A data connection's TLS driven through memory buffers, so that nothing is read unless
    the test says so: curl writes its upload and its close_notify without reading what the
    server sent meanwhile, then closes."""

    def __init__(self, raw: socket.socket, ctx: ssl.SSLContext, host: str, session: object) -> None:
        self.raw, self._in, self._out = raw, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self._in, self._out, server_hostname=host, session=session)  # type: ignore[arg-type]
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                got = raw.recv(65536)
                assert got, "the server closed during the TLS handshake"
                self._in.write(got)
        self._flush()
        assert self.tls.session_reused

    def _flush(self) -> None:
        pending = self._out.read()
        if pending:
            self.raw.sendall(pending)

    def send(self, body: bytes) -> None:
        view = memoryview(body)
        for start in range(0, len(view), 16384):
            self.tls.write(view[start : start + 16384])
            self._flush()

    def close_notify_and_close(self) -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()  # writes our close_notify; the server's is not read
        self._flush()
        select.select([self.raw], [], [], WAIT)  # until the server sends anything at all
        self.raw.close()  # unread bytes make this a reset, which drops what is still unsent


def test_close_like_curl_loses_nothing(slow_reader: LiveServer) -> None:
    """The observed truncation, made deterministic. A session ticket sent on the data
    connection sat unread at the client's close, the close became a reset, the client's last
    bytes were dropped, and the server stored a prefix and said 226. Now the server sends
    nothing on a data connection before its own close_notify, after the last byte."""
    body = payload(SIZE, seed=21)
    ftp = ftps_login(slow_reader, tls13())
    raw, _ = ftplib.FTP.ntransfercmd(ftp, "STOR whole.bin")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    data = CurlLikeClose(raw, ftp.context, ftp.host, ftp.sock.session)  # type: ignore[attr-defined]
    data.send(body)
    data.close_notify_and_close()
    reply = ftp.voidresp()
    assert reply.startswith(f"226 Transfer complete: {SIZE} bytes")
    assert stored(slow_reader, "whole.bin") == body


def test_reset_mid_upload_is_426_with_a_clean_prefix(slow_reader: LiveServer) -> None:
    body = payload(SIZE, seed=22)
    ftp = ftps_login(slow_reader, tls13())
    data = open_data(ftp, "STOR cut.bin")
    data.sendall(body[: SIZE // 2])
    reset(data)
    with pytest.raises(ftplib.error_temp) as refused:
        ftp.voidresp()
    text = str(refused.value)
    assert text.startswith("426 ")
    kept = stored(slow_reader, "cut.bin")
    assert len(kept) < SIZE
    assert body.startswith(kept)
    assert f"after {len(kept)} bytes" in text
    assert xferlog(slow_reader)[-1]["completion"] == "i"


def test_fin_without_close_notify_is_426(live: LiveServer) -> None:
    body = payload(SIZE, seed=23)
    ftp = ftps_login(live, tls13())
    data = open_data(ftp, "STOR ragged.bin")
    data.sendall(body)
    data.shutdown(socket.SHUT_WR)  # TCP FIN, no TLS close_notify
    with pytest.raises(ftplib.error_temp) as refused:
        ftp.voidresp()
    data.close()
    text = str(refused.value)
    assert text.startswith("426 ")
    assert "close_notify" in text
    assert stored(live, "ragged.bin") == body[: len(stored(live, "ragged.bin"))]
    assert xferlog(live)[-1]["completion"] == "i"


def test_early_close_notify_ends_the_upload_where_it_was(live: LiveServer) -> None:
    """A close_notify ends the upload: what follows it is not part of the file, and the 226
    counts only what came before."""
    body = payload(SIZE, seed=24)
    half = SIZE // 2
    ftp = ftps_login(live, tls13())
    data = open_data(ftp, "STOR early.bin")
    data.sendall(body[:half])
    raw = data.unwrap()  # close_notify both ways; the TCP connection stays open
    with contextlib.suppress(OSError):  # the server may have closed already
        raw.sendall(body[half:])
    raw.close()
    reply = ftp.voidresp()
    assert reply.startswith(f"226 Transfer complete: {half} bytes")
    assert stored(live, "early.bin") == body[:half]


def test_allo_proves_the_size_of_a_ragged_upload(live: LiveServer) -> None:
    body = payload(SIZE, seed=25)
    ftp = ftps_login(live, tls13())
    assert ftp.sendcmd(f"ALLO {SIZE}").startswith("202 ")
    data = open_data(ftp, "STOR proven.bin")
    data.sendall(body)
    data.shutdown(socket.SHUT_WR)
    reply = ftp.voidresp()
    data.close()
    assert reply.startswith(f"226 Transfer complete: {SIZE} bytes")
    assert stored(live, "proven.bin") == body
    assert xferlog(live)[-1]["completion"] == "c"


def test_allo_larger_than_what_came_is_still_426(live: LiveServer) -> None:
    body = payload(SIZE, seed=26)
    ftp = ftps_login(live, tls13())
    ftp.sendcmd(f"ALLO {SIZE + 1}")
    data = open_data(ftp, "STOR short.bin")
    data.sendall(body)
    data.shutdown(socket.SHUT_WR)
    with pytest.raises(ftplib.error_temp) as refused:
        ftp.voidresp()
    data.close()
    assert str(refused.value).startswith("426 ")


@pytest.fixture
def lenient(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", tls={"require_close_notify": False})
    yield server
    server.stop()


def test_lenient_setting_answers_226_but_logs_incomplete(lenient: LiveServer) -> None:
    body = payload(SIZE, seed=27)
    ftp = ftps_login(lenient, tls13())
    data = open_data(ftp, "STOR lenient.bin")
    data.sendall(body)
    data.shutdown(socket.SHUT_WR)
    reply = ftp.voidresp()
    data.close()
    assert reply.startswith(f"226 Transfer complete: {SIZE} bytes")
    assert "close_notify" in reply  # the reply says what it could not confirm
    assert stored(lenient, "lenient.bin") == body
    assert xferlog(lenient)[-1]["completion"] == "i"


def test_plain_reset_mid_upload_is_426(slow_reader: LiveServer) -> None:
    body = payload(SIZE, seed=28)
    ftp = slow_reader.login()
    raw, _ = ftp.ntransfercmd("STOR plain.bin")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    raw.sendall(body[: SIZE // 2])
    reset(raw)
    with pytest.raises(ftplib.error_temp) as refused:
        ftp.voidresp()
    assert str(refused.value).startswith("426 ")
    kept = stored(slow_reader, "plain.bin")
    assert body.startswith(kept)
    assert xferlog(slow_reader)[-1]["completion"] == "i"
