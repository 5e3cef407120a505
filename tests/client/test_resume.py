"""Resume after a transfer killed midway, both directions, then verify: sha256 equal."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pasv.client import ClientOptions, FtpClient, IntegrityError, get_file, put_file
from pasv.client.trace import Kind
from pasv.client.transfer import verify
from tests.client.peers import Peer

SIZE = 3 * 1024 * 1024
KILL_AFTER = 1024 * 1024


class Killed(Exception):
    """The client died here."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _client(peer: Peer, events: list[tuple[Kind, str]] | None = None) -> FtpClient:
    trace: Callable[[Kind, str], None] | None = None
    if events is not None:
        trace = lambda k, t: events.append((k, t))  # noqa: E731
    client = FtpClient(ClientOptions(trace=trace, timeout=10))
    await client.connect(peer.host, peer.port)
    await client.login(peer.user, peer.password)
    return client


async def test_download_killed_midway_resumes(peer: Peer, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    peer.put("big.bin", data)
    local = tmp_path / "big.bin"
    received = 0

    def die_midway(n: int) -> None:
        nonlocal received
        received += n
        if received >= KILL_AFTER:
            raise Killed

    client = await _client(peer)
    with pytest.raises(Killed):
        await get_file(client, "/big.bin", local, progress=die_midway)
    await client.close()
    partial = local.stat().st_size
    assert KILL_AFTER <= partial < SIZE

    events: list[tuple[Kind, str]] = []
    client = await _client(peer, events)
    result = await get_file(client, "/big.bin", local)
    await client.quit()
    assert result.resumed_from == partial
    assert result.moved == SIZE - partial
    assert ("Command", f"REST {partial}") in events
    assert _sha(local.read_bytes()) == _sha(data)


async def test_upload_killed_midway_resumes(peer: Peer, tmp_path: Path) -> None:
    data = os.urandom(SIZE)
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    sent = 0
    with local.open("rb") as source:

        def read_then_die(n: int) -> bytes:
            nonlocal sent
            if sent >= KILL_AFTER:
                raise Killed
            chunk = source.read(n)
            sent += len(chunk)
            return chunk

        client = await _client(peer)
        with pytest.raises(Killed):
            await client.upload("/up.bin", read_then_die)
        # The client read the server's final reply: the server has closed the file by now.
        await client.close()
    assert (peer.root / "up.bin").stat().st_size == sent

    events: list[tuple[Kind, str]] = []
    client = await _client(peer, events)
    result = await put_file(client, local, "/up.bin")
    await client.quit()
    assert result.resumed_from == sent
    assert result.moved == SIZE - sent
    assert ("Command", f"REST {sent}") in events or ("Command", "APPE /up.bin") in events
    assert _sha((peer.root / "up.bin").read_bytes()) == _sha(data)


async def test_verification_notices_a_different_file(peer: Peer, tmp_path: Path) -> None:
    peer.put("v.bin", b"A" * 5000)
    local = tmp_path / "v.bin"
    local.write_bytes(b"B" * 5000)  # same size, other content
    client = await _client(peer)
    try:
        if peer.name == "pasv":  # HASH: the content is compared
            with pytest.raises(IntegrityError):
                await verify(client, "/v.bin", local)
        else:  # no hash command: only the size can be compared
            assert await verify(client, "/v.bin", local) == "size"
        local.write_bytes(b"A" * 4999)
        with pytest.raises(IntegrityError):
            await verify(client, "/v.bin", local)
    finally:
        await client.quit()
