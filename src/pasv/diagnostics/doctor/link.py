"""The doctor's control connection and one data transfer, step by step, saying where it broke."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field
from typing import Literal

from pasv.client.addressing import is_ipv6, passive_host
from pasv.client.control import ControlConnection, feature_table
from pasv.client.datachannel import ActiveListener, DataOpener, DataSetupFailed, connect_passive
from pasv.client.errors import FtpClientError, ReplyTimeout
from pasv.client.streams import DataStream
from pasv.protocol.addresses import (
    format_eprt_argument,
    format_port_argument,
    parse_227,
    parse_229,
)
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply

__all__ = ["Link", "Mode", "Moved", "StepFailed"]

Mode = Literal["epsv", "pasv", "active"]
Step = Literal[
    "announce", "connect", "command", "accept", "tls", "transfer", "stalled", "stalled_upload",
    "final", "no_final", "control",
]  # fmt: skip
WRITE_CHUNK = 256 * 1024  # an upload is written in pieces, each within the timeout


class StepFailed(Exception):
    """A data transfer failed at ``step``; ``reply`` is the server's answer when it gave one,
    ``cause`` the error underneath (said in the reader's language), ``values`` what the step
    knew (the address, the command and its 150, the bytes moved, the seconds waited)."""

    def __init__(
        self,
        step: Step,
        detail: str,
        reply: Reply | None = None,
        *,
        cause: BaseException | None = None,
        values: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.step = step
        self.detail = detail
        self.reply = reply
        self.cause = cause
        self.values = values or {}


@dataclass
class Moved:
    """What one transfer did: the bytes received (or the count sent), its time, TLS reuse."""

    received: bytes
    sent: int
    seconds: float
    reused: bool | None
    final: Reply


@dataclass
class Link:
    """A control connection the doctor drives, and what it learned on the way."""

    ctrl: ControlConnection
    host: str  # the name TLS checks the certificate against
    context: ssl.SSLContext | None
    timeout: float
    features: dict[str, str] = field(default_factory=dict)
    prot_p: bool = False

    @property
    def peer(self) -> str:
        return self.ctrl.peer_host

    async def command(self, line: str) -> Reply:
        return await self.ctrl.command(line)

    async def read_features(self) -> None:
        """FEAT: what the server offers, into ``features``."""
        self.features.update(feature_table(await self.command("FEAT")))

    # --- announcing a data connection ------------------------------------------------------

    async def epsv(self) -> tuple[Reply, int | None]:
        """EPSV: the reply and the port it names (None when refused or unreadable)."""
        reply = await self.command("EPSV")
        if reply.code != 229:
            return reply, None
        try:
            return reply, parse_229(reply.text)
        except FtpError:
            return reply, None

    async def pasv(self) -> tuple[Reply, tuple[str, int] | None]:
        """PASV: the reply and the (address, port) it names (None when refused or unreadable)."""
        reply = await self.command("PASV")
        if reply.code != 227:
            return reply, None
        try:
            return reply, parse_227(reply.text)
        except FtpError:
            return reply, None

    async def connect(self, host: str, port: int) -> DataOpener:
        try:
            return await connect_passive(host, port, self.timeout)
        except DataSetupFailed as exc:
            where: dict[str, object] = {"host": host, "port": port}
            raise StepFailed("connect", str(exc), cause=exc, values=where) from None

    async def listen(self) -> tuple[ActiveListener, str]:
        """Listen for the server (active mode); the PORT or EPRT line that announces it."""
        try:
            listener = await ActiveListener.listen(self.ctrl.local_host, self.peer)
        except DataSetupFailed as exc:
            raise StepFailed("announce", str(exc), cause=exc) from None
        if is_ipv6(listener.host):
            return listener, f"EPRT {format_eprt_argument(listener.host, listener.port)}"
        return listener, f"PORT {format_port_argument(listener.host, listener.port)}"

    async def open(self, mode: Mode) -> DataOpener:
        """A data connection in ``mode``, the way a careful client makes it."""
        if mode == "epsv":
            reply, port = await self.epsv()
            if port is None:
                raise StepFailed("announce", f"{reply.code} {reply.text}", reply)
            return await self.connect(self.peer, port)
        if mode == "pasv":
            reply, address = await self.pasv()
            if address is None:
                raise StepFailed("announce", f"{reply.code} {reply.text}", reply)
            host, _ = passive_host(address[0], self.peer)
            return await self.connect(host, address[1])
        listener, line = await self.listen()
        reply = await self.command(line)
        if reply.code != 200:
            listener.close()
            raise StepFailed("announce", f"{reply.code} {reply.text}", reply)
        return listener

    # --- one transfer ----------------------------------------------------------------------

    async def transfer(
        self,
        opener: DataOpener,
        command: str,
        payload: bytes | None = None,
        *,
        resume: bool = True,
        rest: int = 0,
    ) -> Moved:
        """Run ``command`` over ``opener``: send ``payload`` (upload) or read everything."""
        try:
            if rest:
                reply = await self.command(f"REST {rest}")
                if reply.code != 350:
                    raise StepFailed("command", f"{reply.code} {reply.text}", reply)
            reply = await self.command(command)
            if reply.code not in (125, 150):
                raise StepFailed("command", f"{reply.code} {reply.text}", reply)
            started = time.perf_counter()
            said: dict[str, object] = {
                "command": command.split()[0],
                "reply": f"{reply.code} {reply.text}",
                "s": f"{self.timeout:g}",
            }
            try:
                pair = await opener.connected(self.timeout)
            except DataSetupFailed as exc:
                raise StepFailed("accept", str(exc), await self._settle(), cause=exc) from None
            moved = await self._move(pair, payload, resume, said)
            try:
                final = await self.ctrl.reply()
            except ReplyTimeout as exc:  # the data came and went, the 226 never did
                done = {**said, "bytes": max(len(moved[0]), moved[1])}
                raise StepFailed("no_final", str(exc), cause=exc, values=done) from None
            seconds = time.perf_counter() - started
        except FtpClientError as exc:
            raise StepFailed("control", str(exc), cause=exc) from None
        finally:
            opener.close()
        if not 200 <= final.code < 300:
            raise StepFailed("final", f"{final.code} {final.text}", final)
        return Moved(moved[0], moved[1], seconds, moved[2], final)

    async def _move(
        self,
        pair: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        payload: bytes | None,
        resume: bool,
        said: dict[str, object],
    ) -> tuple[bytes, int, bool | None]:
        context = self.context if self.prot_p else None
        session = self.ctrl.tls_session if resume else None
        try:
            async with asyncio.timeout(self.timeout):
                stream = await DataStream.open(
                    pair[0], pair[1], context, self.host, session, timeout=self.timeout
                )
        except (OSError, TimeoutError) as exc:
            pair[1].close()
            settled = await self._settle()
            raise StepFailed("tls", str(exc) or "timed out", settled, cause=exc) from None
        reused = stream.session_reused if context is not None else None
        chunks: list[bytes] = []
        sent = 0
        try:
            if payload is None:
                while data := await stream.read():
                    chunks.append(data)
            else:
                while sent < len(payload):  # a server that stops reading stalls the upload
                    piece = memoryview(payload)[sent : sent + WRITE_CHUNK]
                    async with asyncio.timeout(self.timeout):
                        await stream.write(piece)
                    sent += len(piece)
        except (OSError, TimeoutError) as exc:  # (a timeout: open after the 150, yet silent)
            stalled = isinstance(exc, TimeoutError)
            if stalled:  # unsent data would keep the close waiting for the server to read it
                pair[1].transport.abort()
            await stream.close()
            step: Step = "transfer"
            if stalled:
                step = "stalled" if payload is None else "stalled_upload"
            values = {**said, "bytes": sum(map(len, chunks)) or sent}
            settled = await self._settle()
            raise StepFailed(
                step, str(exc) or "timed out", settled, cause=exc, values=values
            ) from None
        await stream.close()
        return b"".join(chunks), len(payload or b""), reused

    async def _settle(self) -> Reply | None:
        """After a failed data connection, read the server's 425/426 so replies stay in step."""
        try:
            return await self.ctrl.reply(timeout=min(self.timeout, 5.0))
        except FtpClientError:
            return None
