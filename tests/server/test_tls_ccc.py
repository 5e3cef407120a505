"""CCC (clear command channel): off by default; when allowed, TLS ends on the control connection
and the session goes on in clear while PROT P data connections stay encrypted."""

from __future__ import annotations

import asyncio
import ftplib
import io
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from pasv.server.controltls import ControlTls
from tests.server.helpers import Raw, code_of, read_until_closed
from tests.support.ftps import (
    ReusingFTP_TLS,
    ftps_login,
    implicit_login,
    insecure_context,
    make_pki,
)
from tests.support.live import PASSWORD, USER, LiveServer, start_server

CCC_OK = "200 CCC ok; the control connection continues in clear."
T = TypeVar("T")


class CccFTP(ReusingFTP_TLS):
    """ftplib's FTP_TLS whose data connections resume the control connection's TLS session even
    after CCC (ftplib's ccc() unwraps the socket, which then has no session to offer)."""

    saved: ssl.SSLSession | None = None

    def ccc(self) -> str:
        assert isinstance(self.sock, ssl.SSLSocket)
        self.saved = self.sock.session
        return super().ccc()

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        if self.saved is None:
            return super().ntransfercmd(cmd, rest)
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.saved)
        return conn, size  # type: ignore[return-value]  # as ftplib: None without REST


class BioClient:
    """A TLS client driven through memory buffers over a plain socket, so that a test decides
    byte by byte what follows its close_notify."""

    def __init__(self, raw: Raw) -> None:
        self.sock = raw.sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = insecure_context().wrap_bio(
            self.incoming, self.outgoing, server_hostname="localhost"
        )
        self.buffer = b""
        self._pump(self.tls.do_handshake)

    def _pump(self, step: Callable[[], T]) -> T:
        while True:
            try:
                result = step()
            except ssl.SSLWantReadError:
                self.flush()
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server") from None
                self.incoming.write(data)
                continue
            self.flush()
            return result

    def flush(self) -> None:
        pending = self.outgoing.read()
        if pending:
            self.sock.sendall(pending)

    def send(self, text: bytes) -> None:
        self.tls.write(text)
        self.flush()

    def reply(self) -> str:
        """One single-line reply through TLS."""
        while b"\r\n" not in self.buffer:
            self.buffer += self._pump(lambda: self.tls.read(65536))
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def cmd(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def wait_server_close_notify(self) -> None:
        """Read until the server's close_notify (without answering it)."""
        try:
            data = self._pump(lambda: self.tls.read(65536))
        except ssl.SSLZeroReturnError:
            data = b""
        assert data == b"", "data after CCC's 200"

    def plain_reply(self) -> str:
        """One reply in clear: what the TLS buffer held after the TLS end, then the socket."""
        self.buffer += self.incoming.read()
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            assert data, "closed by the server"
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()


@pytest.fixture
def ccc_live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "ccc", tls={"allow_ccc": True})
    yield server
    server.stop()


def ccc_login(live: LiveServer) -> CccFTP:
    ftp = CccFTP(context=insecure_context(), timeout=10, encoding="utf-8")
    live.clients.append(ftp)
    ftp.connect(live.host, live.port)
    ftp.auth()
    ftp.login(USER, PASSWORD)
    ftp.prot_p()
    return ftp


def bio_login(live: LiveServer) -> tuple[Raw, BioClient]:
    raw = Raw.to(live)
    assert raw.cmd("AUTH TLS").code == 234
    client = BioClient(raw)
    assert client.cmd(f"USER {USER}").startswith("331")
    assert client.cmd(f"PASS {PASSWORD}").startswith("230")
    return raw, client


def test_feat_lists_ccc_only_when_allowed(live: LiveServer, ccc_live: LiveServer) -> None:
    assert " CCC" not in live.connect().sendcmd("FEAT").splitlines()
    assert " CCC" in ccc_live.connect().sendcmd("FEAT").splitlines()


def test_ccc_is_refused_by_default_and_tls_goes_on(live: LiveServer) -> None:
    ftp = ftps_login(live)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("CCC")
    assert code_of(info.value) == 533 and "allow_ccc" in str(info.value)
    assert isinstance(ftp.sock, ssl.SSLSocket) and ftp.sock.version() is not None
    assert ftp.voidcmd("NOOP").startswith("200")


def test_ccc_then_commands_in_clear_and_prot_p_data_resuming_the_session(
    ccc_live: LiveServer,
) -> None:
    data = b"ccc" * 100_000
    ftp = ccc_login(ccc_live)
    assert ftp.ccc() == CCC_OK
    assert isinstance(ftp.sock, ssl.SSLSocket) and ftp.sock.version() is None  # TLS is gone
    assert ftp.pwd() == "/"
    ftp.storbinary("STOR c.bin", io.BytesIO(data))
    assert (ccc_live.files / "c.bin").read_bytes() == data
    assert ftp.nlst() == ["c.bin"]
    with ftp.transfercmd("RETR c.bin") as conn:
        assert isinstance(conn, ssl.SSLSocket) and conn.session_reused  # still PROT P
        got = read_until_closed(conn)
    assert ftp.voidresp().startswith("226")
    assert got == data


def test_after_ccc_data_connections_still_require_session_reuse(ccc_live: LiveServer) -> None:
    """A client that forgets the control connection's TLS session at CCC cannot open PROT P
    data connections while tls.require_session_reuse is on (the default)."""
    (ccc_live.files / "x.bin").write_bytes(b"x" * 1000)
    ftp = ftps_login(ccc_live, reuse=False)
    assert ftp.ccc() == CCC_OK
    with pytest.raises(ftplib.error_perm) as info:
        ftp.retrbinary("RETR x.bin", lambda chunk: None)
    assert code_of(info.value) == 522 and "session reuse required" in str(info.value)
    assert ftp.voidcmd("NOOP").startswith("200")


def test_plain_text_right_behind_the_clients_close_notify_is_kept(ccc_live: LiveServer) -> None:
    raw, client = bio_login(ccc_live)
    with raw:
        assert client.cmd("CCC") == CCC_OK
        try:  # our close_notify goes into the buffer; the server's may be in already
            client.tls.unwrap()
            ended = True
        except ssl.SSLWantReadError:
            ended = False
        client.sock.sendall(client.outgoing.read() + b"PWD\r\n")  # one segment
        if not ended:
            client._pump(client.tls.unwrap)  # the server's close_notify
        assert client.plain_reply().startswith('257 "/"')
        client.sock.sendall(b"NOOP\r\n")
        assert client.plain_reply().startswith("200")


def test_a_client_that_goes_on_in_clear_without_its_close_notify(ccc_live: LiveServer) -> None:
    """curl's default CCC mode reads the server's close_notify, answers nothing, and goes on."""
    raw, client = bio_login(ccc_live)
    with raw:
        assert client.cmd("CCC") == CCC_OK
        client.wait_server_close_notify()
        client.sock.sendall(b"PWD\r\n")
        assert client.plain_reply().startswith('257 "/"')


def test_ccc_with_a_command_behind_it_is_refused_and_tls_goes_on(ccc_live: LiveServer) -> None:
    raw, client = bio_login(ccc_live)
    with raw:
        client.send(b"CCC\r\nNOOP\r\n")
        reply = client.reply()
        assert reply.startswith("503") and "alone" in reply
        assert client.reply().startswith("200 NOOP")
        assert client.cmd("PWD").startswith("257")  # still through TLS


def test_clients_close_notify_without_ccc_ends_the_connection(ccc_live: LiveServer) -> None:
    raw, client = bio_login(ccc_live)
    with raw:
        client._pump(client.tls.unwrap)  # the server answers with its own close_notify
        assert raw.wait_closed() == b""


def test_ccc_without_tls_or_twice(ccc_live: LiveServer) -> None:
    with pytest.raises(ftplib.error_perm) as info:
        ccc_live.login().sendcmd("CCC")
    assert code_of(info.value) == 503 and "not protected" in str(info.value)
    ftp = ccc_login(ccc_live)
    ftp.ccc()
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("CCC")
    assert code_of(info.value) == 503 and "in clear already" in str(info.value)


def test_auth_tls_after_ccc_is_refused(ccc_live: LiveServer) -> None:
    ftp = ccc_login(ccc_live)
    ftp.ccc()
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("AUTH TLS")
    assert code_of(info.value) == 503 and "ended by CCC" in str(info.value)


def test_ccc_on_implicit_tls_is_refused(ccc_live: LiveServer) -> None:
    ftp = implicit_login(ccc_live)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("CCC")
    assert code_of(info.value) == 533 and "implicit" in str(info.value)
    assert " CCC" not in ftp.sendcmd("FEAT").splitlines()
    assert ftp.voidcmd("NOOP").startswith("200")


def test_a_new_login_after_ccc_is_refused_where_tls_is_required(tmp_path: Path) -> None:
    """REIN after CCC would otherwise let USER/PASS through in clear."""
    server = start_server(tmp_path / "data", tls={"allow_ccc": True, "require_login_tls": True})
    try:
        ftp = ccc_login(server)
        ftp.ccc()
        assert ftp.sendcmd("REIN").startswith("220")
        with pytest.raises(ftplib.error_perm) as info:
            ftp.sendcmd(f"USER {USER}")
        assert code_of(info.value) == 530 and "TLS required" in str(info.value)
    finally:
        server.stop()


def test_a_failed_handshake_closes_and_the_server_goes_on(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        assert raw.cmd("AUTH TLS").code == 234
        raw.send(b"USER alice\r\n")  # not a TLS ClientHello
        assert b"331" not in raw.wait_closed()
    assert live.connect().voidcmd("NOOP").startswith("200")


def test_the_handshake_timeout_closes_a_silent_client(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", tls={"handshake_timeout": 0.2})
    try:
        with Raw.to(server) as raw:
            assert raw.cmd("AUTH TLS").code == 234
            assert raw.wait_closed() == b""
    finally:
        server.stop()


def test_data_connections_resume_the_control_session_before_ccc(ccc_live: LiveServer) -> None:
    (ccc_live.files / "r.bin").write_bytes(b"r" * 5000)
    ftp = ccc_login(ccc_live)
    with ftp.transfercmd("RETR r.bin") as conn:
        assert isinstance(conn, ssl.SSLSocket) and conn.session_reused
        assert read_until_closed(conn) == b"r" * 5000
    assert ftp.voidresp().startswith("226")


def test_the_tls_layer_fed_one_byte_at_a_time_through_ccc(tmp_path: Path) -> None:
    """Records split at every byte, the client's close_notify and the first plain command in
    one stream: nothing is lost, nothing of the close_notify leaks into the plain text."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(make_pki(tmp_path).chain_file)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = insecure_context().wrap_bio(incoming, outgoing, server_hostname="localhost")

    def trickle(layer: ControlTls, data: bytes) -> bytes:
        return b"".join(layer.feed(data[i : i + 1]) for i in range(len(data)))

    async def run() -> None:
        layer = ControlTls(server_context, incoming.write)
        for _ in range(10):
            try:
                client.do_handshake()
                break
            except ssl.SSLWantReadError:
                assert trickle(layer, outgoing.read()) == b""
        assert trickle(layer, outgoing.read()) == b""  # the client's Finished
        assert layer.handshaken and layer.ready.done()
        client.write(b"CCC\r\n")
        assert trickle(layer, outgoing.read()) == b"CCC\r\n"
        layer.send(b"200 CCC ok\r\n")
        assert client.read(100) == b"200 CCC ok\r\n"
        layer.clearing = True  # what the control connection does once the 200 is out
        with pytest.raises(ssl.SSLWantReadError):
            client.unwrap()
        assert trickle(layer, outgoing.read() + b"PWD\r\n") == b"PWD\r\n"
        assert layer.cleared and layer.notified
        client.unwrap()  # the server's close_notify answered ours

    asyncio.run(run())
