"""Opening data connections: passive (we connect) and active (the server connects to us)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from pasv.client.errors import DataChannelError

__all__ = [
    "ActiveListener",
    "DataOpener",
    "DataSetupFailed",
    "PassiveConnection",
    "connect_passive",
]

Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class DataOpener(Protocol):
    """A data connection on its way: ``connected`` after the 150 reply, ``close`` always."""

    async def connected(self, timeout: float) -> Pair: ...

    def close(self) -> None: ...


class DataSetupFailed(DataChannelError):
    """No data connection came up, and no byte moved: another mode may work."""


class PassiveConnection:
    """A data connection we opened before sending the transfer command."""

    def __init__(self, pair: Pair) -> None:
        self._pair: Pair | None = pair

    async def connected(self, timeout: float) -> Pair:
        assert self._pair is not None
        pair, self._pair = self._pair, None
        return pair

    def close(self) -> None:
        if self._pair is not None:
            self._pair[1].close()
            self._pair = None


async def connect_passive(host: str, port: int, timeout: float) -> PassiveConnection:
    try:
        async with asyncio.timeout(timeout):
            pair = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise DataSetupFailed(f"passive connection to {host}:{port} timed out") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataSetupFailed(f"passive connection to {host}:{port} failed: {reason}") from None
    return PassiveConnection(pair)


class ActiveListener:
    """A listening socket for PORT/EPRT; only a connection from the server's address is taken."""

    def __init__(self, expected_peer: str) -> None:
        self._expected = expected_peer
        self._server: asyncio.Server | None = None
        self._accepted: asyncio.Future[Pair] | None = None
        self.host = ""
        self.port = 0

    @classmethod
    async def listen(cls, local_host: str, expected_peer: str) -> ActiveListener:
        self = cls(expected_peer)
        self._accepted = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(self._on_connect, local_host, 0, backlog=1)
        except OSError as exc:
            raise DataSetupFailed(f"cannot listen for an active data connection: {exc}") from None
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]).split("%", 1)[0] if peer else ""
        if host.removeprefix("::ffff:") != self._expected.removeprefix("::ffff:"):
            writer.close()  # not the server: a stranger trying to take our data
            return
        if self._accepted is not None and not self._accepted.done():
            self._accepted.set_result((reader, writer))
        else:
            writer.close()

    async def connected(self, timeout: float) -> Pair:
        assert self._accepted is not None
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._accepted)
        except TimeoutError:
            raise DataSetupFailed("the server did not connect to our active port") from None

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._accepted is not None:
            if self._accepted.done() and not self._accepted.cancelled():
                with contextlib.suppress(Exception):
                    self._accepted.result()[1].close()
            self._accepted.cancel()
