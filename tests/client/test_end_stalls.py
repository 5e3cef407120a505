"""A transfer whose data ended but whose 226 never comes: it fails after --timeout, named, the
session is closed, and a retry checks what the server has rather than calling it done."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import (
    ClientOptions,
    ConnectionFailed,
    DataStalled,
    FtpClient,
    RetryPolicy,
    Target,
    get_file,
    put_file,
    run_session,
    tls_context,
)
from pasv.client.errors import FtpClientError
from pasv.client.streams import DataStream, Stall
from tests.client.fakes import LineProxy
from tests.client.scripted import FileServer, Hook, Session
from tests.support.live import PASSWORD, USER, start_server

pytestmark = pytest.mark.timeout(60)  # a wait that is not bounded hangs; this bounds it

DATA = os.urandom(300_000)
OLD = 1_577_836_800  # 2020-01-01: older than the server's copy (2024), so a resume is allowed


def _stor_unconfirmed(keep: int | None = None, every: bool = False) -> Hook:
    """STOR: read every byte to the end, keep ``keep`` of them (all: None), never reply."""

    def stor(session: Session, arg: str) -> bool:
        if not every and session.server.count("STOR") > 1:
            return False
        session.send("150 Send it.")
        with session.data() as sock:
            got = b"".join(iter(lambda: sock.recv(65536), b""))
        session.server.files[session.path(arg)] = got if keep is None else got[:keep]
        return True

    return stor


def _retr_unconfirmed(every: bool = False) -> Hook:
    """RETR: send the whole file, close the data connection, never reply."""

    def retr(session: Session, arg: str) -> bool:
        if not every and session.server.count("RETR") > 1:
            return False
        session.send("150 Here it comes.")
        with session.data() as sock:
            sock.sendall(session.server.files[session.path(arg)])
        return True

    return retr


def _late_226(session: Session, arg: str) -> bool:
    """NOOP: the transfer's 226 comes now, late, and then NOOP's own reply."""
    session.send("226 Stored.")
    session.send("200 OK.")
    return True


def _local(tmp_path: Path) -> Path:
    local = tmp_path / "up.bin"
    local.write_bytes(DATA)
    os.utime(local, (OLD, OLD))
    return local


async def _no_wait(seconds: float) -> None:
    pass


async def test_an_upload_never_confirmed_fails_named_and_closes_the_session(
    tmp_path: Path,
) -> None:
    hooks = {"STOR": _stor_unconfirmed(), "NOOP": _late_226}
    with FileServer(hooks=hooks) as server:
        async with FtpClient(ClientOptions(timeout=1)) as client:
            await client.connect("127.0.0.1", server.port)
            await client.login("u", "p")
            with pytest.raises(DataStalled) as caught:
                await put_file(client, _local(tmp_path), "/up.bin", resume=False)
            with pytest.raises(ConnectionFailed):  # never the late 226 as NOOP's reply
                await client.command("NOOP")
    stall = caught.value
    assert stall.stage == "closing" and stall.transient and stall.moved == len(DATA)
    assert str(stall).startswith("STOR: the transfer stalled while closing: all 300000 bytes")
    assert "did not confirm the transfer (no 226 reply) within 1 s" in str(stall)


@pytest.mark.parametrize("keep", [None, 123_456])
async def test_a_retry_after_an_unconfirmed_upload_asks_the_server_and_checks_the_file(
    tmp_path: Path, keep: int | None
) -> None:
    failures: list[FtpClientError] = []
    with FileServer(hooks={"STOR": _stor_unconfirmed(keep)}) as server:
        result = await run_session(
            Target("127.0.0.1", server.port, "u", "p"),
            ClientOptions(timeout=1),
            lambda client: put_file(client, _local(tmp_path), "/up.bin"),
            RetryPolicy(attempts=2),
            sleep=_no_wait,
            on_retry=lambda attempt, wait, exc: failures.append(exc),
        )
        stored, commands = server.files["/up.bin"], list(server.commands)
    [stall] = failures
    assert isinstance(stall, DataStalled) and stall.stage == "closing"
    assert stored == DATA
    assert result.verified_by == "size"  # not called done before the server's size agreed
    if keep is None:  # the server has it all: checked, not sent again
        assert commands.count("STOR /up.bin") == 1
        assert (result.resumed_from, result.moved) == (len(DATA), 0)
    else:  # it kept a part: the retry resumes at what it has
        assert f"REST {keep}" in commands
        assert (result.resumed_from, result.moved) == (keep, len(DATA) - keep)


async def test_a_download_never_confirmed_fails_and_its_retry_checks_the_file(
    tmp_path: Path,
) -> None:
    local = tmp_path / "a.bin"
    failures: list[FtpClientError] = []
    with FileServer({"/a.bin": DATA}, hooks={"RETR": _retr_unconfirmed()}) as server:
        result = await run_session(
            Target("127.0.0.1", server.port, "u", "p"),
            ClientOptions(timeout=1),
            lambda client: get_file(client, "/a.bin", local),
            RetryPolicy(attempts=2),
            sleep=_no_wait,
            on_retry=lambda attempt, wait, exc: failures.append(exc),
        )
        retrieved = server.count("RETR")
    [stall] = failures
    assert isinstance(stall, DataStalled) and stall.stage == "closing"
    assert str(stall).startswith("RETR: the transfer stalled while closing: 300000 bytes came")
    assert local.read_bytes() == DATA and retrieved == 1
    assert (result.resumed_from, result.verified_by) == (len(DATA), "size")


@pytest.mark.parametrize("command", ["put", "get"])
def test_pasv_put_and_get_never_report_an_unconfirmed_transfer_done(
    tmp_path: Path, command: str
) -> None:
    hooks = {"STOR": _stor_unconfirmed(), "RETR": _retr_unconfirmed()}
    with FileServer({"/a.bin": DATA}, hooks=hooks) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/a.bin"
        local = str(_local(tmp_path))
        args = [local, url] if command == "put" else [url, str(tmp_path / "got.bin")]
        result = CliRunner().invoke(
            app, [command, *args, "--timeout", "1", "--retries", "0", "--no-resume"]
        )
    assert result.exit_code == 4, result.output
    verb = "STOR" if command == "put" else "RETR"
    assert f"{verb}: the transfer stalled while closing" in result.stderr
    assert "--timeout" in result.stderr


class Swallow226(LineProxy):
    """In front of the real server: the 226 of every STOR of a name ending in ``suffix`` is
    dropped (the server stored the file; the client never hears so)."""

    def __init__(self, upstream: tuple[str, int], suffix: bytes, times: int = 1) -> None:
        super().__init__(upstream)
        self.suffix = suffix
        self.times = times
        self.last = b""

    def command(self, line: bytes, client: asyncio.StreamWriter) -> bytes | None:
        self.last = line.rstrip(b"\r\n")
        return line

    def reply(self, line: bytes) -> bytes:
        storing = self.last.startswith(b"STOR ") and self.last.endswith(self.suffix)
        if storing and line.startswith(b"226") and self.times:
            self.times -= 1
            return b""
        return line


async def test_the_real_server_s_hash_clears_an_upload_whose_226_was_lost(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    proxy = Swallow226((server.host, server.port), b"/up.bin")
    await proxy.start()
    failures: list[FtpClientError] = []
    try:
        result = await run_session(
            Target("127.0.0.1", proxy.port, USER, PASSWORD),
            ClientOptions(timeout=1),
            lambda client: put_file(client, _local(tmp_path), "/up.bin"),
            RetryPolicy(attempts=2),
            sleep=_no_wait,
            on_retry=lambda attempt, wait, exc: failures.append(exc),
        )
    finally:
        await proxy.close()
        server.stop()
    [stall] = failures
    assert isinstance(stall, DataStalled) and stall.stage == "closing"
    assert (server.files / "up.bin").read_bytes() == DATA
    assert (result.moved, result.verified_by) == (0, "sha256")  # checked by hash, not re-sent


class TlsHooks:
    """AUTH TLS, PBSZ and PROT P for the scripted server, and a STOR over TLS whose server
    takes every byte and the client's close_notify, then sends neither its own close_notify
    nor (with ``confirm`` False) a 226."""

    def __init__(self, chain: Path, confirm: bool) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(chain)
        self.confirm = confirm
        self.held: list[ssl.SSLSocket] = []

    def hooks(self) -> dict[str, Hook]:
        return {"AUTH": self.auth, "PBSZ": self.ok, "PROT": self.ok, "STOR": self.stor}

    def ok(self, session: Session, arg: str) -> bool:
        session.send("200 OK.")
        return True

    def auth(self, session: Session, arg: str) -> bool:
        session.send("234 Go ahead.")
        tls = self.context.wrap_socket(session.conn.connection, server_side=True)
        session.conn.rfile = tls.makefile("rb")
        session.conn.wfile = tls.makefile("wb", buffering=0)
        self.held.append(tls)
        return True

    def stor(self, session: Session, arg: str) -> bool:
        session.send("150 Send it.")
        tls = self.context.wrap_socket(session.data(), server_side=True)
        self.held.append(tls)  # never unwrapped: no close_notify comes back
        got = b"".join(iter(lambda: tls.recv(65536), b""))  # b"": the client's close_notify
        session.server.files[session.path(arg)] = got
        if self.confirm:
            session.send("226 Stored.")
        return True


@pytest.mark.parametrize("confirm", [False, True])
async def test_a_tls_upload_whose_server_never_ends_tls_is_bounded(
    tmp_path: Path, certs: tuple[Path, Path, Path], confirm: bool
) -> None:
    tls = TlsHooks(certs[1], confirm)
    options = ClientOptions(timeout=1, tls=True, ssl_context=tls_context(certs[0]))
    try:
        with FileServer(hooks=tls.hooks()) as server:
            async with FtpClient(options) as client:
                await client.connect("127.0.0.1", server.port)
                await client.login("u", "p")
                if confirm:  # no close_notify back, but the 226: done, and checked
                    result = await put_file(client, _local(tmp_path), "/up.bin", resume=False)
                    assert result.verified_by == "size"
                else:
                    with pytest.raises(DataStalled) as caught:
                        await put_file(client, _local(tmp_path), "/up.bin", resume=False)
                    assert caught.value.stage == "closing"
            assert server.files["/up.bin"] == DATA
    finally:
        for sock in tls.held:
            sock.close()


async def test_an_upload_end_the_server_never_reads_is_reset_after_the_timeout() -> None:
    """The last bytes wait in the client's buffer when the server reads none of them: the
    close gives up after the timeout and resets the connection (small socket buffers make
    40 KiB more than the kernels hold, and less than asyncio's 64 KiB before a write waits)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.connect(listener.getsockname())
        server_side, _ = listener.accept()
    with server_side:
        reader, writer = await asyncio.open_connection(sock=sock)
        stream = await DataStream.open(reader, writer, timeout=0.5)
        await stream.write(b"x" * 40 * 1024)  # taken: the buffer stays below its high mark
        with pytest.raises(Stall) as caught:
            await stream.close()
        assert caught.value.stage == "closing" and caught.value.sent == 40 * 1024
        assert "did not take the end of the data within 0.5 s" in str(caught.value)

        def read_to_the_end() -> None:
            while server_side.recv(65536):
                pass

        with pytest.raises(ConnectionResetError):  # reset, not a clean end of the data
            await asyncio.to_thread(read_to_the_end)  # the loop closes the socket meanwhile
