"""mirror when a server ends sessions midway (vsftpd's "500 OOPS"): new session, same file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import (
    ClientOptions,
    ConnectionFailed,
    FtpClientError,
    ReplyError,
    RetryPolicy,
    Target,
)
from pasv.client.mirror import local_tree, plan
from pasv.client.mirror_run import run_plan
from pasv.client.session import open_client
from pasv.client.trace import Kind
from tests.client.fakes import AbortsOnce, LineProxy, SessionKiller
from tests.client.peers import Vsftpd, vsftpd_unavailable
from tests.client.scripted import FileServer
from tests.client.test_mirror import make_tree, snapshot
from tests.support.live import PASSWORD, USER, start_server


class Waits:
    """Stands in for asyncio.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


async def _upload_through(
    killer: LineProxy, source: Path, policy: RetryPolicy, events: list[tuple[Kind, str]],
    retried: list[FtpClientError], waits: Waits,
) -> int:  # fmt: skip
    target = Target("127.0.0.1", killer.port, USER, PASSWORD)
    options = ClientOptions(trace=lambda k, t: events.append((k, t)), timeout=10)
    the_plan = plan("upload", local_tree(source), {})
    the_plan.create_root = True
    first = await open_client(target, options)
    try:
        return await run_plan(
            the_plan, "/t", source, first, lambda: open_client(target, options), jobs=3,
            policy=policy, on_retry=lambda n, w, e: retried.append(e), sleep=waits,
        )  # fmt: skip
    finally:
        await first.close()


async def test_a_session_the_server_ends_is_replaced_and_its_file_copied(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    source = tmp_path / "source"
    make_tree(source, count=20)
    # Three kills, four attempts per file: even one file hit every time gets through.
    killer = SessionKiller((server.host, server.port), at=2, every=6, times=3)
    await killer.start()
    events: list[tuple[Kind, str]] = []
    retried: list[FtpClientError] = []
    waits = Waits()
    try:
        copied = await _upload_through(
            killer, source, RetryPolicy(attempts=4, min_delay=0.5), events, retried, waits
        )
    finally:
        await killer.close()
        server.stop()
    assert copied == 20
    assert snapshot(server.files / "t") == snapshot(source)
    assert killer.killed == 3
    assert len(retried) == 3 == len(waits.seconds)
    assert all(isinstance(e, ConnectionFailed) and "500 OOPS" in str(e) for e in retried)
    assert min(waits.seconds) >= 0.5
    assert not any("falling back" in text or "EPSV refused" in text for _, text in events)


async def test_a_426_is_retried_for_that_file_in_a_new_session(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    source = tmp_path / "source"
    make_tree(source, count=8)
    proxy = AbortsOnce((server.host, server.port), times=2)
    await proxy.start()
    retried: list[FtpClientError] = []
    try:
        copied = await _upload_through(
            proxy, source, RetryPolicy(attempts=3, min_delay=0.5), [], retried, Waits()
        )
    finally:
        await proxy.close()
        server.stop()
    assert copied == 8
    assert snapshot(server.files / "t") == snapshot(source)
    assert [e.code for e in retried if isinstance(e, ReplyError)] == [426, 426]


async def test_without_retries_the_mirror_stops_at_once_with_the_reason(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    source = tmp_path / "source"
    make_tree(source, count=20)
    killer = SessionKiller((server.host, server.port), at=4)
    await killer.start()
    events: list[tuple[Kind, str]] = []
    try:
        with pytest.raises(ConnectionFailed) as caught:
            await _upload_through(killer, source, RetryPolicy(attempts=1), events, [], Waits())
    finally:
        await killer.close()
        server.stop()
    assert "ended the session: 500 OOPS: vsf_sysutil_bind" in str(caught.value)
    assert caught.value.final  # its retries are spent: the whole run is not started again
    assert not any(text.startswith(("PORT", "EPRT")) for kind, text in events if kind == "Command")


def test_vsftpd_out_of_passive_ports_is_a_lost_session_not_a_refused_epsv() -> None:
    reason = vsftpd_unavailable()
    if reason:
        pytest.skip(reason)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        only_port = int(holder.getsockname()[1])
        server = Vsftpd((only_port, only_port))  # its one passive port is taken: bind fails
        try:
            peer = server.peer()
            peer.put("f.txt", b"hello")
            result = CliRunner().invoke(
                app, ["cat", peer.url("/f.txt"), "-v", "--retries", "0"], catch_exceptions=False
            )
        finally:
            server.stop()
    assert result.exit_code == 4, result.stderr
    assert "Response: 500 OOPS: vsf_sysutil_bind" in result.stderr
    assert "the server failed and ended the session" in result.stderr
    assert "falling back" not in result.stderr and "Command:  PASV" not in result.stderr


def test_mirror_goes_on_with_the_sessions_a_server_allows(tmp_path: Path) -> None:
    files = {f"/site/f{i:02d}.bin": bytes([i]) * 2000 for i in range(12)}
    local = tmp_path / "site"
    with FileServer(files, dirs=("/site",), max_sessions=2) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/site"
        result = CliRunner().invoke(app, ["mirror", "-j", "4", url, str(local), "--retries", "0"])
    code, text = result.exit_code, result.stdout + result.stderr
    assert code == 0, text
    assert sorted(p.name for p in local.iterdir()) == sorted(p.rsplit("/", 1)[1] for p in files)
    assert text.count("The server refused another session (421 Too many connections") == 1
    assert "copied 12 files" in text
