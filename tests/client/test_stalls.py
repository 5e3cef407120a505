"""A data connection on which nothing moves fails after --timeout, is reset, and is resumed."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
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
)
from pasv.client.errors import FtpClientError
from tests.client.scripted import FileServer, Hook, Session

pytestmark = pytest.mark.timeout(60)  # a stall that is not caught hangs; this bounds it

BIG = 48 * 1024 * 1024  # more than loopback's socket buffers hold: the sender must wait
TAKEN = 100_000  # what the stalling server reads and keeps before it stops reading
OLD = 1_577_836_800  # 2020-01-01: the local file is older than the server's part (2024)


class Held:
    """Data connections a hook keeps open without reading: closed when the test ends."""

    def __init__(self) -> None:
        self.socks: list[socket.socket] = []

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


@pytest.fixture
def held() -> Iterator[Held]:
    kept = Held()
    yield kept
    kept.close()


def _stop_reading_after(held: Held, taken: int, answer_abor: bool = True) -> dict[str, Hook]:
    """Hooks: the first STOR keeps ``taken`` bytes, then reads no more and never replies."""

    def stor(session: Session, arg: str) -> bool:
        if session.server.count("STOR") > 1:
            return False
        session.send("150 Send it.")
        sock = session.data()
        held.socks.append(sock)
        got = b""
        while len(got) < taken and (chunk := sock.recv(taken - len(got))):
            got += chunk
        session.server.files[session.path(arg)] = got
        return True

    hooks: dict[str, Hook] = {"STOR": stor}
    if not answer_abor:
        hooks["ABOR"] = lambda session, arg: True  # heard, never answered
    return hooks


def _hold_retr(held: Held) -> Hook:
    def retr(session: Session, arg: str) -> bool:
        session.send("150 Here it comes.")
        held.socks.append(session.data())  # and then nothing
        return True

    return retr


def _big_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(BIG)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    os.utime(local, (OLD, OLD))
    return local, data


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_a_stalled_upload_fails_is_reset_and_resumes_at_what_the_server_has(
    tmp_path: Path, held: Held
) -> None:
    local, data = _big_file(tmp_path)
    failures: list[FtpClientError] = []
    sleeps = Sleeps()
    with FileServer(hooks=_stop_reading_after(held, TAKEN)) as server:
        result = await run_session(
            Target("127.0.0.1", server.port, "u", "p"),
            ClientOptions(timeout=1),
            lambda client: put_file(client, local, "/up.bin"),
            RetryPolicy(attempts=2, min_delay=3.0),
            sleep=sleeps,
            on_retry=lambda attempt, wait, exc: failures.append(exc),
        )
        assert server.files["/up.bin"] == data
        commands = list(server.commands)
    [stall] = failures
    assert isinstance(stall, DataStalled) and stall.stage == "sending"
    assert "stalled while sending" in str(stall) and "--timeout" in str(stall)
    assert stall.moved > TAKEN  # more was handed to the socket than the server kept
    assert sleeps.waits and sleeps.waits[0] >= 3.0  # the retry waited as anti-hammering asks
    assert "ABOR" in commands  # the silent server was told the transfer is over
    assert f"REST {TAKEN}" in commands  # resumed where the server's SIZE said, not where we were
    assert (result.resumed_from, result.moved) == (TAKEN, BIG - TAKEN)


async def test_a_download_held_after_150_fails_and_the_session_stays_in_step(
    tmp_path: Path, held: Held
) -> None:
    hooks = {"RETR": _hold_retr(held)}
    with FileServer({"/a.bin": b"x" * 1000}, hooks=hooks) as server:
        async with FtpClient(ClientOptions(timeout=1)) as client:
            await client.connect("127.0.0.1", server.port)
            await client.login("u", "p")
            with pytest.raises(DataStalled) as caught:
                await get_file(client, "/a.bin", tmp_path / "a.bin")
            assert caught.value.stage == "receiving" and caught.value.transient
            assert "no data came from the server for 1 s after 0 bytes" in str(caught.value)
            assert (await client.command("NOOP")).code == 200  # ABOR answered: in step


async def test_a_server_silent_after_a_stall_and_its_abor_loses_the_control_connection(
    tmp_path: Path, held: Held
) -> None:
    local, _ = _big_file(tmp_path)
    hooks = _stop_reading_after(held, TAKEN, answer_abor=False)
    with FileServer(hooks=hooks) as server:
        async with FtpClient(ClientOptions(timeout=1)) as client:
            await client.connect("127.0.0.1", server.port)
            await client.login("u", "p")
            with pytest.raises(DataStalled):
                await put_file(client, local, "/up.bin", resume=False)
            with pytest.raises(ConnectionFailed):  # not a reply meant for the transfer
                await client.command("NOOP")


def test_pasv_put_with_a_timeout_reports_the_stall(tmp_path: Path, held: Held) -> None:
    local, _ = _big_file(tmp_path)
    with FileServer(hooks=_stop_reading_after(held, TAKEN)) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/up.bin"
        result = CliRunner().invoke(
            app, ["put", str(local), url, "--timeout", "1", "--retries", "0"]
        )
    assert result.exit_code != 0
    assert "STOR: the data connection stalled while sending" in result.stderr
    assert "the server took no data for 1 s after" in result.stderr
