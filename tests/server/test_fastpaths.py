"""The download fast paths: the first sendfile step made inline (no writer registered), the
pumped part corked into full segments, and the passive listeners watched through one epoll set
of our own."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from pasv.server.datachannel import PassivePortPool
from pasv.server.transfers import FairShare, Transfer, sendfile
from pasv.server.watch import Watch
from pasv.storage.local import LocalStorage


async def _download(tmp_path: Path, size: int, fill_first: bool = False) -> tuple[bytes, int]:
    """sendfile of a ``size``-byte file into one end of a socket pair, read at the other end;
    with ``fill_first`` the socket has no room when the transfer starts."""
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    handle = await LocalStorage(tmp_path).open_read("/f")
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    loop = asyncio.get_running_loop()
    junk = 0
    if fill_first:
        while True:
            try:
                junk += ours.send(b"j" * 65536)
            except BlockingIOError:
                break
    received = bytearray()

    async def read_all() -> None:
        while True:
            chunk = await loop.sock_recv(theirs, 1 << 20)
            if not chunk:
                return
            received.extend(chunk)

    reader = asyncio.ensure_future(read_all())
    transfer = Transfer("RETR", "o", "/f", size)
    try:
        await sendfile(ours, handle, 0, transfer, FairShare())
    finally:
        ours.close()
        await handle.close()
    await asyncio.wait_for(reader, 10)
    theirs.close()
    assert bytes(received[:junk]) == b"j" * junk
    return bytes(received[junk:]), transfer.done


@pytest.mark.parametrize("size", [1, 4096, 300_000])
async def test_a_file_that_fits_goes_in_the_inline_step(tmp_path: Path, size: int) -> None:
    data, done = await _download(tmp_path, size)
    assert done == size and len(data) == size
    assert data == (tmp_path / "f").read_bytes()


async def test_a_file_larger_than_one_turn_goes_on_through_the_pump(tmp_path: Path) -> None:
    size = 3 * FairShare.CEILING + 12345
    data, done = await _download(tmp_path, size)
    assert done == size
    assert hashlib.sha256(data).digest() == hashlib.sha256((tmp_path / "f").read_bytes()).digest()


async def test_a_pumped_download_is_corked_and_its_tail_goes_with_the_close(
    tmp_path: Path,
) -> None:
    """Over TCP, a download that needs the pump sends full segments only (TCP_CORK); closing
    the connection sends the last partial one: every byte arrives."""
    size = 3 * FairShare.CEILING + 12345
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    handle = await LocalStorage(tmp_path).open_read("/f")
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname(), timeout=5)
        ours, _ = listener.accept()
    ours.setblocking(False)
    theirs.setblocking(False)
    received = bytearray()

    async def read_all() -> None:
        while chunk := await loop.sock_recv(theirs, 1 << 20):
            received.extend(chunk)

    reader = asyncio.ensure_future(read_all())
    try:
        await sendfile(ours, handle, 0, Transfer("RETR", "o", "/f", size), FairShare())
        assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK) == 1
    finally:
        ours.close()
        await handle.close()
    await asyncio.wait_for(reader, 10)
    theirs.close()
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()


async def test_a_socket_without_room_waits_for_it(tmp_path: Path) -> None:
    data, done = await _download(tmp_path, 50_000, fill_first=True)
    assert done == 50_000 and data == (tmp_path / "f").read_bytes()


class _Entry:
    """A descriptor's entry in a Watch that calls ``callback`` when it is ready."""

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback

    def ready(self, events: int) -> None:
        self.callback()


async def test_listener_watch_calls_back_once_per_ready_listener() -> None:
    loop = asyncio.get_running_loop()
    watch = Watch(loop)
    try:
        listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
        for sock in listeners:
            sock.setblocking(False)
        ready: asyncio.Queue[int] = asyncio.Queue()

        def take(index: int) -> None:  # as PassiveChannel does: accept what is there
            conn, _ = listeners[index].accept()
            conn.close()
            ready.put_nowait(index)

        for index, sock in enumerate(listeners):
            watch.watch(sock.fileno(), _Entry(lambda i=index: take(i)))
        clients = [socket.create_connection(s.getsockname(), timeout=5) for s in listeners[1:]]
        got = {await asyncio.wait_for(ready.get(), 5) for _ in range(2)}
        assert got == {1, 2}  # and nothing for the listener nobody connected to
        for sock in listeners:
            watch.forget(sock.fileno())
            sock.close()  # closing takes it out of the epoll set: no unregister call needed
        for client in clients:
            client.close()
        # a new listener may get a closed one's descriptor number: only its own callback runs
        fresh = socket.create_server(("127.0.0.1", 0))
        fresh.setblocking(False)
        watch.watch(
            fresh.fileno(), _Entry(lambda: ready.put_nowait(99) or fresh.accept()[0].close())
        )
        with socket.create_connection(fresh.getsockname(), timeout=5):
            assert await asyncio.wait_for(ready.get(), 5) == 99
        assert ready.empty()  # every connection was taken once, by its own listener's callback
        watch.forget(fresh.fileno())
        fresh.close()
    finally:
        watch.close()


async def test_a_forgotten_listener_left_open_is_dropped_from_the_set() -> None:
    watch = Watch(asyncio.get_running_loop())
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        calls: list[int] = []
        watch.watch(sock.fileno(), _Entry(lambda: calls.append(1)))
        watch.forget(sock.fileno())
        with socket.create_connection(sock.getsockname(), timeout=5):
            for _ in range(20):  # a few loop turns: the set reports it once, then never again
                await asyncio.sleep(0)
            watch._ready()  # what the loop calls when the set is readable
            assert calls == []
            assert watch._epoll.poll(0) == []
    finally:
        sock.close()
        watch.close()


async def test_pool_close_ends_its_watch() -> None:
    pool = PassivePortPool(1024, 1024)
    watch = pool.watcher()
    assert pool.watcher() is watch  # one per event loop
    pool.close()
    assert watch.closed
