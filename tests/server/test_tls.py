"""Explicit and implicit FTPS with ftplib: transfers, session reuse, the TLS commands' replies."""

from __future__ import annotations

import ftplib
import hashlib
import io
import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import WAIT, Raw, big_file, code_of, read_until_closed, wait_for
from tests.support.ftps import (
    ftps_login,
    implicit_login,
    insecure_context,
    served_fingerprint,
)
from tests.support.live import LiveServer, start_server

SIZE = 3 * 1024 * 1024 + 17


def payload(size: int = SIZE, seed: int = 7) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB, not all one byte
    return (block * (size // len(block) + 1))[:size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    chunks: list[bytes] = []
    ftp.retrbinary(f"RETR {name}", chunks.append, rest=rest)
    return b"".join(chunks)


@pytest.fixture
def plain_tls_ok(tmp_path: Path) -> Iterator[LiveServer]:
    """A server that lets data connections start new TLS sessions (old clients)."""
    server = start_server(tmp_path / "data", tls={"require_session_reuse": False})
    yield server
    server.stop()


def test_feat_advertises_auth_tls_pbsz_prot(live: LiveServer) -> None:
    features = live.connect().sendcmd("FEAT").splitlines()
    assert " AUTH TLS" in features
    assert " PBSZ" in features
    assert " PROT" in features


def test_feat_without_tls_advertises_none_of_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", tls={"enabled": False})
    try:
        ftp = server.connect()
        assert "AUTH TLS" not in ftp.sendcmd("FEAT")
        with pytest.raises(ftplib.error_perm) as info:
            ftp.sendcmd("AUTH TLS")
        assert code_of(info.value) == 502
        assert server.server.implicit_addresses == []
    finally:
        server.stop()


def test_upload_list_download_resume_under_prot_p(live: LiveServer) -> None:
    ftp = ftps_login(live)
    data = payload()
    ftp.storbinary("STOR up.bin", io.BytesIO(data))
    assert sha((live.files / "up.bin").read_bytes()) == sha(data)
    assert ftp.nlst() == ["up.bin"]
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 1 and lines[0].endswith(" up.bin") and str(SIZE) in lines[0]
    assert sha(download(ftp, "up.bin")) == sha(data)
    # resume a download and an upload at an offset
    assert download(ftp, "up.bin", rest=SIZE - 1000) == data[-1000:]
    (live.files / "part.bin").write_bytes(data[:1_000_000])
    ftp.storbinary("STOR part.bin", io.BytesIO(data[1_000_000:]), rest=1_000_000)
    assert sha((live.files / "part.bin").read_bytes()) == sha(data)


def test_ascii_download_under_tls_converts_line_ends(live: LiveServer) -> None:
    (live.files / "t.txt").write_bytes(b"one\ntwo\n" * 1000)
    ftp = ftps_login(live)
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("RETR t.txt") as conn:
        wire = read_until_closed(conn)
    ftp.voidresp()
    assert wire == b"one\r\ntwo\r\n" * 1000


def test_data_connection_without_session_reuse_is_refused(live: LiveServer) -> None:
    """Plain ftplib FTP_TLS starts a fresh TLS session on each data connection: refused with a
    clear reply, nothing transferred, and the session goes on."""
    (live.files / "secret.bin").write_bytes(b"x" * 5000)
    ftp = ftps_login(live, reuse=False)
    chunks: list[bytes] = []
    with pytest.raises(ftplib.error_perm) as info:
        ftp.retrbinary("RETR secret.bin", chunks.append)
    assert code_of(info.value) == 522
    assert "session reuse required" in str(info.value)
    assert chunks == []
    assert ftp.voidcmd("NOOP").startswith("200")


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_a_data_connection_resuming_another_connections_session_is_refused(
    live: LiveServer, version: str
) -> None:
    """require_session_reuse means this control connection's session: a third party from the
    same address, with a TLS session of its own (AUTH TLS, no login), cannot take the data."""
    (live.files / "secret.bin").write_bytes(b"TOP SECRET")
    ctx = insecure_context(maximum_version=getattr(ssl.TLSVersion, version))
    with Raw.to(live) as thief:
        thief.cmd("AUTH TLS")
        own = ctx.wrap_socket(thief.sock, server_hostname=live.host)
        own.sendall(b"NOOP\r\n")
        assert own.recv(100).startswith(b"200")
        victim = ftps_login(live, ctx)
        port = int(victim.sendcmd("EPSV").split("|")[3])
        raw = socket.create_connection((live.host, port), timeout=WAIT)
        victim.putcmd("RETR secret.bin")
        assert victim.getresp().startswith("150")
        with ctx.wrap_socket(raw, server_hostname=live.host, session=own.session) as data:
            assert read_until_closed(data) == b""
        with pytest.raises(ftplib.error_perm) as info:
            victim.getresp()
        assert code_of(info.value) == 522
        own.close()


def test_session_reuse_can_be_relaxed_for_old_clients(plain_tls_ok: LiveServer) -> None:
    data = payload(200_000)
    ftp = ftps_login(plain_tls_ok, reuse=False)
    ftp.storbinary("STOR a.bin", io.BytesIO(data))
    assert download(ftp, "a.bin") == data


def test_tls12_client_resumes_by_session_id_or_ticket(live: LiveServer) -> None:
    ctx = insecure_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    ftp = ftps_login(live, ctx)
    assert isinstance(ftp.sock, ssl.SSLSocket) and ftp.sock.version() == "TLSv1.2"
    data = payload(100_000)
    ftp.storbinary("STOR a.bin", io.BytesIO(data))
    assert download(ftp, "a.bin") == data


def test_tls11_and_older_are_refused(live: LiveServer) -> None:
    ctx = insecure_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ftp = ftplib.FTP_TLS(context=ctx, timeout=WAIT)
    live.clients.append(ftp)
    ftp.connect(live.host, live.port)
    with pytest.raises(ssl.SSLError) as info:
        ftp.auth()
    # refused by the server (an alert, or the connection closed), not by this client itself
    error = info.value
    assert isinstance(error, ssl.SSLEOFError) or "PROTOCOL_VERSION" in str(error).upper()


def test_served_certificate_is_the_self_signed_one_in_the_data_dir(live: LiveServer) -> None:
    pem = (live.settings.tls_dir / "self-signed.pem").read_bytes()
    der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    ftp = ftps_login(live)
    assert isinstance(ftp.sock, ssl.SSLSocket)
    assert served_fingerprint(ftp.sock) == hashlib.sha256(der).hexdigest()
    key = live.settings.tls_dir / "self-signed.key"
    assert key.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only


def test_implicit_tls_greets_over_tls_and_transfers(live: LiveServer) -> None:
    ftp = implicit_login(live)
    assert ftp.welcome.startswith("220")
    data = payload(500_000)
    ftp.storbinary("STOR i.bin", io.BytesIO(data))
    assert download(ftp, "i.bin") == data
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("AUTH TLS")
    assert code_of(info.value) == 503


def test_plain_bytes_on_the_implicit_port_get_no_reply(live: LiveServer) -> None:
    host, port = live.server.implicit_addresses[0]
    with socket.create_connection((host, port), timeout=WAIT) as sock:
        sock.sendall(b"USER alice\r\n")
        assert b"331" not in read_until_closed(sock)


def test_implicit_connections_count_against_the_limits_before_their_handshake(
    tmp_path: Path,
) -> None:
    """A connection still in its TLS handshake holds its place (max_sessions 1 here): many
    silent ones cannot pile up past the limit; the next client is told so over TLS."""
    live = start_server(tmp_path / "data", server={"max_sessions": 1})
    try:
        host, port = live.server.implicit_addresses[0]
        with socket.create_connection((host, port), timeout=WAIT):  # never says ClientHello
            wait_for(lambda: len(live.server.sessions) == 1)
            ctx = insecure_context()
            raw = socket.create_connection((host, port), timeout=WAIT)
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                said = read_until_closed(tls)
        assert said.startswith(b"421 Too many users")
    finally:
        live.stop()


def test_refusals_on_the_implicit_port_handshake_a_bounded_few_at_a_time(
    tmp_path: Path,
) -> None:
    """Refused connections (here: over max_sessions) that never finish their handshake hold
    at most 32 places; the next refused one is closed at once, with no TLS work."""
    live = start_server(tmp_path / "data", server={"max_sessions": 1})
    host, port = live.server.implicit_addresses[0]
    silent = [socket.create_connection((host, port), timeout=WAIT) for _ in range(33)]
    try:
        wait_for(lambda: live.server.refusing_over_tls == 32)
        with socket.create_connection((host, port), timeout=WAIT) as late:
            assert read_until_closed(late) == b""  # closed, not left waiting for a ClientHello
        assert live.server.refusing_over_tls == 32
    finally:
        for sock in silent:
            sock.close()
        live.stop()


def test_commands_pipelined_after_auth_tls_are_refused(live: LiveServer) -> None:
    """Bytes sent in clear after AUTH TLS must never run as if they came through TLS."""
    with Raw.to(live) as raw:
        raw.send(b"AUTH TLS\r\nUSER alice\r\n")
        reply = raw.reply()
        assert reply.code == 421
        assert "after AUTH TLS" in reply.text
        assert raw.wait_closed() == b""


@pytest.mark.parametrize(
    ("commands", "code", "words"),
    [
        (["PBSZ 0"], 503, "AUTH TLS first"),
        (["PROT P"], 503, "AUTH TLS first"),
        (["AUTH KERBEROS_V4"], 504, "use AUTH TLS"),
    ],
)
def test_security_commands_out_of_order(
    live: LiveServer, commands: list[str], code: int, words: str
) -> None:
    with Raw.to(live) as raw:
        for line in commands:
            reply = raw.cmd(line)
        assert reply.code == code and words in reply.text


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("PROT S", 536),
        ("PROT E", 536),
        ("PROT X", 504),
        ("PBSZ x", 501),
        ("PBSZ ²", 501),
        ("CCC", 533),
    ],
)
def test_security_command_replies_under_tls(live: LiveServer, command: str, code: int) -> None:
    ftp = ftps_login(live, prot_p=False)
    assert ftp.sendcmd("PBSZ 0") == "200 PBSZ=0"
    with pytest.raises(ftplib.Error) as info:
        ftp.sendcmd(command)
    assert code_of(info.value) == code


def test_prot_before_pbsz_and_auth_twice(live: LiveServer) -> None:
    ftp = ftps_login(live, prot_p=False)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("PROT P")
    assert code_of(info.value) == 503 and "PBSZ" in str(info.value)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("AUTH TLS")
    assert code_of(info.value) == 503


def test_prot_c_goes_back_to_clear_data(live: LiveServer) -> None:
    (live.files / "c.bin").write_bytes(b"clear" * 100)
    ftp = ftps_login(live)
    assert ftp.sendcmd("PROT C").startswith("200")
    ftp._prot_p = False  # type: ignore[attr-defined]  # what ftplib's prot_c() records
    assert download(ftp, "c.bin") == b"clear" * 100


def test_auth_after_login_asks_for_a_new_login(live: LiveServer) -> None:
    ftp = live.login()
    assert ftp.sendcmd("AUTH TLS").startswith("234")
    ftp.sock = insecure_context().wrap_socket(ftp.sock, server_hostname=live.host)
    ftp.file = ftp.sock.makefile("r", encoding=ftp.encoding)
    with pytest.raises(ftplib.error_perm) as info:
        ftp.sendcmd("PWD")
    assert code_of(info.value) == 530


def test_tls_over_ipv4_and_ipv6(live_any: LiveServer) -> None:
    ftp = ftps_login(live_any)
    ftp.storbinary("STOR v.bin", io.BytesIO(b"v" * 70_000))
    assert download(ftp, "v.bin") == b"v" * 70_000


def test_abor_stops_a_tls_download_and_the_session_goes_on(live: LiveServer) -> None:
    big_file(live)
    ftp = ftps_login(live)
    conn = ftp.transfercmd("RETR big.bin")  # 150 seen, TLS data connection up
    try:
        assert conn.recv(65536)
        ftp.putcmd("ABOR")  # ftplib's abort() cannot send urgent data on a TLS socket
        assert ftp.getmultiline().startswith("426")
        assert ftp.getmultiline().startswith("226")
    finally:
        conn.close()
    assert ftp.voidcmd("NOOP").startswith("200")
    assert ftp.nlst() == ["big.bin"]
