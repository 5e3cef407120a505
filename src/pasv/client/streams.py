"""A data connection as one small stream API, plain or TLS (with the control session resumed).

asyncio's own TLS cannot resume a given session, so TLS here runs an ``ssl.SSLObject`` over
memory BIOs on top of a plain stream: ``SSLContext.wrap_bio`` accepts ``session=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct

__all__ = ["DataStream", "Stall"]

CHUNK = 256 * 1024
SHUTDOWN_WAIT = 5.0


class Stall(TimeoutError):
    """A data connection on which nothing moved for ``timeout`` seconds.

    ``stage`` is "receiving", "sending" or "closing"; ``received`` and ``sent`` are the bytes
    that went through the connection before (sent: handed to the socket, not known to have
    arrived: a resume asks the server what it has)."""

    def __init__(self, stage: str, timeout: float, received: int, sent: int) -> None:
        self.stage = stage
        self.timeout = timeout
        self.received = received
        self.sent = sent
        if stage == "receiving":
            what = f"no data came from the server for {timeout:g} s after {received} bytes"
        elif stage == "sending":
            what = f"the server took no data for {timeout:g} s after {sent} bytes were sent"
        else:
            what = (f"the server did not take the end of the data within {timeout:g} s "
                    f"({sent} bytes sent)")  # fmt: skip
        super().__init__(what)


class DataStream:
    """Read, write and close one data connection; TLS when opened with a context."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tls: ssl.SSLObject | None = None,
        incoming: ssl.MemoryBIO | None = None,
        outgoing: ssl.MemoryBIO | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._timeout = timeout
        self._reader = reader
        self._writer = writer
        self._tls = tls
        self._in = incoming or ssl.MemoryBIO()
        self._out = outgoing or ssl.MemoryBIO()
        self.received = 0  # bytes read from the connection
        self.sent = 0  # bytes handed to the socket (the server may not have them all)

    @classmethod
    async def open(
        cls,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext | None = None,
        hostname: str | None = None,
        session: ssl.SSLSession | None = None,
        timeout: float = 30.0,
    ) -> DataStream:
        """Wrap a connected stream; with ``context``, run the TLS handshake resuming ``session``.

        ``timeout`` bounds each wait for data, or for the server to take what we send: a
        connection on which nothing moves that long fails with ``Stall``.
        """
        if context is None:
            return cls(reader, writer, timeout=timeout)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname=hostname, session=session)
        stream = cls(reader, writer, tls, incoming, outgoing, timeout)
        await stream._handshake()
        return stream

    @property
    def session_reused(self) -> bool:
        return self._tls is not None and self._tls.session_reused

    async def _flush(self) -> None:
        pending = self._out.read()
        if pending:
            self._writer.write(pending)
            await self._drain("sending")

    async def _drain(self, stage: str) -> None:
        """Wait until the socket takes what was written, at most ``timeout`` seconds."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._writer.drain()
        except TimeoutError:
            raise Stall(stage, self._timeout, self.received, self.sent) from None

    async def _recv(self) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                data = await self._reader.read(CHUNK)
        except TimeoutError:
            raise Stall("receiving", self._timeout, self.received, self.sent) from None
        self.received += len(data)
        return data

    async def _fill(self) -> bool:
        data = await self._recv()
        if data:
            self._in.write(data)
            return True
        self._in.write_eof()
        return False

    async def _handshake(self) -> None:
        assert self._tls is not None
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise ConnectionResetError("data connection closed during TLS") from None
        await self._flush()

    async def read(self) -> bytes:
        """The next bytes; b"" at the end of the data."""
        if self._tls is None:
            return await self._recv()
        while True:
            try:
                return self._tls.read(CHUNK)
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    continue  # the BIO now reports EOF: the next read ends or raises
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""  # close_notify, or a server that skips it; sizes are checked after

    async def write(self, data: bytes | memoryview) -> None:
        """Send ``data``; a server that takes none of it for ``timeout`` seconds is a Stall."""
        if self._tls is None:
            self._writer.write(data)
        else:
            self._tls.write(data)
            self._writer.write(self._out.read())
        self.sent += len(data)
        await self._drain("sending")

    async def mark(self, marker: str) -> None:
        """Restart markers exist in MODE B only (``modestreams.BlockStream``)."""

    async def finish(self) -> None:
        """Stream mode ends the data by closing the connection: nothing to write first."""

    async def close(self) -> None:
        """End the data: TLS close_notify both ways first (see _shutdown), then the TCP close.

        The close waits for what is still unsent; a server that takes none of it for
        ``timeout`` seconds gets the connection reset (``abort``) and this raises ``Stall``."""
        if self._tls is not None:
            with contextlib.suppress(ssl.SSLError, OSError, TimeoutError):
                async with asyncio.timeout(min(self._timeout, SHUTDOWN_WAIT)):
                    await self._shutdown()
        self._writer.close()
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(self._writer.wait_closed())  # a timeout must not cancel
        except TimeoutError:
            self.abort()
            raise Stall("closing", self._timeout, self.received, self.sent) from None
        except (OSError, ssl.SSLError):
            pass  # it ended with an error: closed all the same

    def abort(self) -> None:
        """Drop the connection at once with a reset (RST), unsent data thrown away: after a
        stall or a failure, the server sees the transfer end rather than wait for more."""
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    async def _shutdown(self) -> None:
        """Send close_notify and wait for the server's (or its close).

        Closing at once would leave the server's session tickets unread, and a socket closed
        with unread data sends a reset: vsftpd then fails an upload with "426 Failure reading
        network stream".
        """
        assert self._tls is not None
        for _ in range(64):
            try:
                self._tls.unwrap()
                await self._flush()
                return
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    return
