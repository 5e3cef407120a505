"""Plain control connections in the server's epoll set: the transport part the control uses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from pasv.server.controlsocket import ControlListener, ControlSocket
from pasv.server.watch import Watch

BIG = 8 * 1024 * 1024  # more than loopback's socket buffers hold: part of it must wait


class Recorder(asyncio.Protocol):
    """A protocol that notes every callback the transport makes."""

    def __init__(self) -> None:
        self.transport: ControlSocket | None = None
        self.received = bytearray()
        self.events: list[str] = []
        self.made: asyncio.Future[ControlSocket] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.data = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, ControlSocket)
        self.transport = transport
        self.made.set_result(transport)

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.data.set()
        if data == b"boom\r\n":
            raise RuntimeError("a protocol bug")

    def eof_received(self) -> bool:
        self.events.append("eof")
        return False

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


@dataclass
class Served:
    watch: Watch
    listener: ControlListener
    accepted: asyncio.Queue[Recorder] = field(default_factory=asyncio.Queue)

    @property
    def address(self) -> tuple[str, int]:
        name = self.listener.sockets[0].getsockname()
        return name[0], name[1]

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Recorder]:
        reader, writer = await asyncio.open_connection(*self.address)
        protocol = await asyncio.wait_for(self.accepted.get(), 5)
        return reader, writer, protocol

    async def connect_plain(self) -> tuple[socket.socket, Recorder]:
        client = socket.create_connection(self.address, timeout=5)
        return client, await asyncio.wait_for(self.accepted.get(), 5)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    watch = Watch(asyncio.get_running_loop())
    holder: list[Served] = []

    def factory() -> Recorder:
        protocol = Recorder()
        holder[0].accepted.put_nowait(protocol)
        return protocol

    listener = ControlListener(watch, socket.create_server(("127.0.0.1", 0)), factory)
    holder.append(Served(watch, listener))
    yield holder[0]
    listener.close()
    watch.close()


async def test_lines_in_and_replies_out(served: Served) -> None:
    reader, writer, protocol = await served.connect()
    writer.write(b"NOOP\r\n")
    await asyncio.wait_for(protocol.data.wait(), 5)
    assert protocol.received == b"NOOP\r\n"
    assert protocol.transport is not None
    assert protocol.transport.get_extra_info("peername") == writer.get_extra_info("sockname")
    assert protocol.transport.get_extra_info("sockname") == served.address
    protocol.transport.write(b"200 NOOP ok.\r\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"200 NOOP ok.\r\n"
    assert len(served.watch) == 1  # the listener is the loop's, the connection ours
    writer.close()
    assert await asyncio.wait_for(protocol.lost, 5) is None
    assert protocol.events == ["eof", "lost"]  # the client's end closes ours
    assert len(served.watch) == 0


async def test_a_reply_the_kernel_cannot_take_at_once_arrives_whole(served: Served) -> None:
    reader, writer, protocol = await served.connect()
    assert protocol.transport is not None
    payload = bytes(range(256)) * (BIG // 256)
    protocol.transport.write(payload)  # the client reads nothing yet: most of it is buffered
    protocol.transport.write(b"tail")
    assert protocol.events == ["pause"]  # asked to stop writing above the high-water mark
    assert protocol.transport.get_write_buffer_size() > 0
    got = await asyncio.wait_for(reader.readexactly(BIG + 4), 10)
    assert got == payload + b"tail"
    assert protocol.events == ["pause", "resume"]
    assert protocol.transport.get_write_buffer_size() == 0
    writer.close()


async def test_close_sends_what_is_buffered_before_the_end(served: Served) -> None:
    reader, writer, protocol = await served.connect()
    assert protocol.transport is not None
    protocol.transport.write(b"x" * BIG)
    protocol.transport.write(b"421 Bye.\r\n")
    protocol.transport.close()
    assert protocol.transport.is_closing()
    protocol.transport.write(b"not after the close")  # dropped, as asyncio's transports do
    assert not protocol.lost.done()  # still flushing
    got = await asyncio.wait_for(reader.read(), 10)  # up to the end of the stream
    assert got == b"x" * BIG + b"421 Bye.\r\n"
    assert await asyncio.wait_for(protocol.lost, 5) is None
    writer.close()


async def test_abort_drops_the_buffer_and_closes_now(served: Served) -> None:
    reader, writer, protocol = await served.connect()
    assert protocol.transport is not None
    protocol.transport.write(b"y" * BIG)
    protocol.transport.abort()
    assert await asyncio.wait_for(protocol.lost, 5) is None
    got = await asyncio.wait_for(reader.read(), 10)
    assert len(got) < BIG  # the unsent part was dropped
    assert len(served.watch) == 0
    writer.close()


async def test_paused_reading_holds_the_bytes_until_resumed(served: Served) -> None:
    client, protocol = await served.connect_plain()
    assert protocol.transport is not None
    protocol.transport.pause_reading()
    assert not protocol.transport.is_reading()
    client.sendall(b"USER a\r\n")  # on loopback, in the server's socket when send returns
    served.watch._ready()  # what the loop calls when the set is readable
    assert protocol.received == b""
    protocol.transport.resume_reading()
    await asyncio.wait_for(protocol.data.wait(), 5)
    assert protocol.received == b"USER a\r\n"
    client.close()


async def test_a_reset_is_lost_with_its_error(served: Served) -> None:
    client, protocol = await served.connect_plain()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()  # linger 0: the close is a RST
    exc = await asyncio.wait_for(protocol.lost, 5)
    assert isinstance(exc, ConnectionResetError)
    assert protocol.events == ["lost"]
    assert len(served.watch) == 0


async def test_a_failing_protocol_costs_its_own_connection_only(served: Served) -> None:
    reader1, writer1, first = await served.connect()
    _, writer2, second = await served.connect()
    writer2.write(b"boom\r\n")
    assert await asyncio.wait_for(second.lost, 5) is None  # logged and closed
    assert first.transport is not None
    first.transport.write(b"220 still here\r\n")
    assert await asyncio.wait_for(reader1.readline(), 5) == b"220 still here\r\n"
    _, writer3, third = await served.connect()  # and new connections are taken
    assert third.transport is not None and not third.transport.is_closing()
    for writer in (writer1, writer2, writer3):
        writer.close()


async def test_a_closed_listener_takes_no_more_connections(served: Served) -> None:
    address = served.address
    served.listener.close()
    assert served.listener.sockets == ()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(*address)


async def test_out_of_descriptors_pauses_accepting_then_goes_on(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    client = socket.create_connection(served.address, timeout=5)  # waits in the listen queue
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers: list[int] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (client.fileno() + 1, hard))
        with contextlib.suppress(OSError):  # take every free number below the limit
            for _ in range(client.fileno() + 1):
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        served.listener._accept()  # what the loop calls when the listener is ready
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert "cannot accept a control connection" in caplog.text
    assert served.accepted.empty()
    loop = asyncio.get_running_loop()
    assert not loop.remove_reader(served.listener.sockets[0].fileno())  # paused: not watched
    protocol = await asyncio.wait_for(served.accepted.get(), 5)  # taken once the pause ends
    assert protocol.transport is not None and not protocol.transport.is_closing()
    client.close()


async def test_the_protocol_hears_of_the_close_before_the_client_sees_it(served: Served) -> None:
    client, protocol = await served.connect_plain()
    with client:
        assert protocol.transport is not None
        client.setblocking(False)
        protocol.transport.close()
        # on loopback an end of stream would be in the client's socket as soon as it was sent
        with pytest.raises(BlockingIOError):
            client.recv(1)
        assert await asyncio.wait_for(protocol.lost, 5) is None
        client.settimeout(5)
        assert client.recv(1) == b""  # closed once the session is forgotten
