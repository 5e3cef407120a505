"""Uploads spliced from the socket into the file (os.splice): the handle's own calls."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from pasv.storage.base import IN_PLACE, WriteMode
from pasv.storage.local import LocalStorage


@pytest.mark.parametrize("mode", [IN_PLACE, WriteMode(atomic=True)])
async def test_splice_moves_what_waits_and_reports_the_end(tmp_path: Path, mode: WriteMode) -> None:
    storage = LocalStorage(tmp_path)
    handle = await storage.open_write("/up.bin", mode=mode)
    splice = handle.splicer()
    assert splice is not None
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):  # nothing sent yet
            splice(ours.fileno(), 1 << 20)
        data = os.urandom(200_000)
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        got = 0
        while True:
            try:
                n = splice(ours.fileno(), 65536)
            except BlockingIOError:
                await asyncio.sleep(0.01)  # bytes still on their way through loopback
                continue
            if n == 0:
                break
            got += n
        assert got == len(data) == handle.written
        await handle.commit()
    finally:
        await handle.close()
        ours.close()
        theirs.close()
    assert (tmp_path / "up.bin").read_bytes() == data


async def test_no_splice_into_a_file_opened_for_appending(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes(b"old ")
    handle = await LocalStorage(tmp_path).open_write("/log", append=True)
    try:
        assert handle.splicer() is None  # the kernel refuses splice into O_APPEND files
        await handle.write(b"new")
    finally:
        await handle.close()
    assert (tmp_path / "log").read_bytes() == b"old new"


async def test_closing_releases_the_pipe(tmp_path: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    handle = await LocalStorage(tmp_path).open_write("/f")
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.sendall(b"x" * 1000)
    splice = handle.splicer()
    assert splice is not None
    assert splice(ours.fileno(), 4096) == 1000
    await handle.close()
    ours.close()
    theirs.close()
    assert len(os.listdir("/proc/self/fd")) == before
