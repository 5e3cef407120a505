"""A data connection as one small stream API, plain or TLS (with the control session resumed).

asyncio's own TLS cannot resume a given session, so TLS here runs an ``ssl.SSLObject`` over
memory BIOs on top of a plain stream: ``SSLContext.wrap_bio`` accepts ``session=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

__all__ = ["DataStream"]

CHUNK = 256 * 1024
SHUTDOWN_WAIT = 5.0


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

        ``timeout`` bounds each wait for data (an idle data connection fails with TimeoutError).
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
            await self._writer.drain()

    async def _recv(self) -> bytes:
        async with asyncio.timeout(self._timeout):
            return await self._reader.read(CHUNK)

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
        if self._tls is None:
            self._writer.write(data)
        else:
            self._tls.write(data)
            self._writer.write(self._out.read())
        await self._writer.drain()

    async def mark(self, marker: str) -> None:
        """Restart markers exist in MODE B only (``modestreams.BlockStream``)."""

    async def finish(self) -> None:
        """Stream mode ends the data by closing the connection: nothing to write first."""

    async def close(self) -> None:
        """End the data: TLS close_notify both ways first (see _shutdown), then the TCP close."""
        if self._tls is not None:
            with contextlib.suppress(ssl.SSLError, OSError, TimeoutError):
                async with asyncio.timeout(min(self._timeout, SHUTDOWN_WAIT)):
                    await self._shutdown()
        self._writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await self._writer.wait_closed()

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
