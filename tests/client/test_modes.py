"""pasv's client in MODE Z (--compress) and MODE B (--block) against pasv's server.

MODE B: a transfer killed after some restart markers resumes from the last one (not from the
partial file's size), in both directions, and the file ends sha256-equal.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.client import ClientOptions, FtpClient, checkpoint, get_file, put_file
from pasv.client.trace import Kind
from tests.support.live import PASSWORD, USER, LiveServer, start_server
from tests.support.modelog import measured

TEXT = b"".join(b"%07d GET /static/app.js 200 %d bytes\n" % (i, i * 7 % 5000) for i in range(40000))
SIZE = 1024 * 1024 + 12345
INTERVAL = 100_000


class Killed(Exception):
    """The client died here."""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def marking(tmp_path: Path) -> Iterator[LiveServer]:
    """pasv embedding a restart marker after each 100,000 bytes of a MODE B download."""
    server = start_server(tmp_path / "data", modes={"marker_interval": INTERVAL})
    yield server
    server.stop()


async def connect(
    live: LiveServer, events: list[tuple[Kind, str]] | None = None, **options: object
) -> FtpClient:
    def trace(kind: Kind, text: str) -> None:
        if events is not None:
            events.append((kind, text))

    client = FtpClient(ClientOptions(timeout=10, trace=trace, **options))  # type: ignore[arg-type]
    await client.connect(live.host, live.port)
    await client.login(USER, PASSWORD)
    return client


def commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage().split(" Command: ", 1)[1]
        for r in caplog.records
        if r.name == "pasv.session" and " Command: " in r.getMessage()
    ]


async def test_compress_gets_and_puts_deflated(
    live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    (live.files / "access.log").write_bytes(TEXT)
    client = await connect(live, compress=True)
    assert client.mode == "Z"
    got = tmp_path / "got.log"
    result = await get_file(client, "/access.log", got)
    assert sha(got.read_bytes()) == sha(TEXT) and result.verified_by == "sha256"
    await put_file(client, got, "/again.log")
    assert sha((live.files / "again.log").read_bytes()) == sha(TEXT)
    assert [n.name for n in await client.listdir("/")] == ["access.log", "again.log"]
    await client.quit()
    moved = measured(caplog)
    for key in (("RETR", "/access.log"), ("STOR", "/again.log")):
        assert moved[key][0] == len(TEXT) and moved[key][1] < len(TEXT) // 4


async def test_resume_under_mode_z_starts_at_the_uncompressed_offset(
    live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    (live.files / "access.log").write_bytes(TEXT)
    got = tmp_path / "got.log"
    local = tmp_path / "up.log"
    local.write_bytes(TEXT)
    (live.files / "up.log").write_bytes(TEXT[:222_222])
    client = await connect(live, compress=True)
    received = 0

    def die(n: int) -> None:
        nonlocal received
        received += n
        if received >= 333_333:
            raise Killed

    with pytest.raises(Killed):  # a download cut midway: pasv resumes what it left
        await get_file(client, "/access.log", got, progress=die)
    await client.close()
    partial = got.stat().st_size
    client = await connect(live, compress=True)
    assert (await get_file(client, "/access.log", got)).resumed_from == partial
    assert (await put_file(client, local, "/up.log")).resumed_from == 222_222
    await client.quit()
    assert sha(got.read_bytes()) == sha(TEXT)
    assert sha((live.files / "up.log").read_bytes()) == sha(TEXT)
    assert f"REST {partial}" in commands(caplog) and "REST 222222" in commands(caplog)


async def test_compress_without_mode_z_in_feat_stays_in_stream_mode(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", modes={"deflate": False})
    try:
        (server.files / "a.txt").write_bytes(TEXT)
        events: list[tuple[Kind, str]] = []
        client = await connect(server, events, compress=True)
        assert client.mode == "S"
        assert ("Status", "The server's FEAT does not list MODE Z; not compressing.") in events
        got = tmp_path / "a.txt"
        await get_file(client, "/a.txt", got)
        assert got.read_bytes() == TEXT
        await client.quit()
    finally:
        server.stop()


async def test_block_mode_round_trip_with_markers(marking: LiveServer, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    (marking.files / "b.bin").write_bytes(data)
    client = await connect(marking, block=True, marker_every=INTERVAL)
    assert client.mode == "B"
    seen: list[tuple[str, int]] = []
    chunks: list[bytes] = []
    await client.download("/b.bin", chunks.append, on_marker=lambda m, n: seen.append((m, n)))
    assert sha(b"".join(chunks)) == sha(data)
    assert seen == [(str(p), p) for p in range(INTERVAL, SIZE, INTERVAL)]
    marks: list[tuple[str, str]] = []
    source = tmp_path / "b.bin"
    source.write_bytes(data)
    with source.open("rb") as handle:
        await client.upload("/up.bin", handle.read, on_mark=lambda y, m: marks.append((y, m)))
    assert marks == [(str(p), str(p)) for p in range(INTERVAL, SIZE, INTERVAL)]
    assert sha((marking.files / "up.bin").read_bytes()) == sha(data)
    await client.quit()


async def test_block_download_killed_resumes_from_the_last_marker(
    marking: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    data = os.urandom(SIZE)
    (marking.files / "big.bin").write_bytes(data)
    local = tmp_path / "big.bin"
    received = 0

    def die(n: int) -> None:
        nonlocal received
        received += n
        if received >= 350_000:
            raise Killed

    client = await connect(marking, block=True)
    with pytest.raises(Killed):
        await get_file(client, "/big.bin", local, progress=die, markers=True)
    await client.close()
    mark = checkpoint.load(local, "get", "/big.bin")
    assert mark is not None and (mark.server, mark.local) == ("300000", 300_000)
    assert local.stat().st_size > 300_000  # resuming by size would start elsewhere

    client = await connect(marking, block=True)
    result = await get_file(client, "/big.bin", local, markers=True)
    await client.quit()
    assert result.resumed_from == 300_000 and result.verified_by == "sha256"
    assert sha(local.read_bytes()) == sha(data)
    assert commands(caplog).count("REST 300000") == 1
    assert not checkpoint.sidecar(local).exists()


async def test_block_upload_killed_resumes_from_the_last_110_mark(
    marking: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    data = os.urandom(SIZE)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    sent = 0

    def die(n: int) -> None:
        nonlocal sent
        sent += n
        if sent >= 350_000:
            raise Killed

    client = await connect(marking, block=True, marker_every=INTERVAL)
    with pytest.raises(Killed):
        await put_file(client, local, "/big.bin", progress=die, markers=True)
    await client.close()
    mark = checkpoint.load(local, "put", "/big.bin")
    assert mark is not None and (mark.local, mark.server) == (300_000, "300000")
    assert (marking.files / "big.bin").stat().st_size > 300_000  # SIZE would say otherwise

    client = await connect(marking, block=True, marker_every=INTERVAL)
    result = await put_file(client, local, "/big.bin", markers=True)
    await client.quit()
    assert result.resumed_from == 300_000 and result.verified_by == "sha256"
    assert sha((marking.files / "big.bin").read_bytes()) == sha(data)
    assert "REST 300000" in commands(caplog)
    assert not checkpoint.sidecar(local).exists()
