"""One session's data connections: passive or active (with one fallback), TLS and MODE Z/B
layers, and the final reply of each transfer."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Protocol

from pasv.client.addressing import is_ipv6, passive_host
from pasv.client.control import ControlConnection
from pasv.client.datachannel import ActiveListener, DataOpener, DataSetupFailed, connect_passive
from pasv.client.errors import (
    DataChannelError,
    DataStalled,
    FtpClientError,
    ReplyError,
    ReplyTimeout,
)
from pasv.client.modestreams import BlockStream, DeflateStream
from pasv.client.options import ClientOptions
from pasv.client.streams import DataStream, Stall
from pasv.protocol.addresses import (
    format_eprt_argument,
    format_port_argument,
    parse_227,
    parse_229,
)
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply

__all__ = ["AnyStream", "DataFlow", "MarkSeen", "StreamJob", "parse_mark"]

DRAIN_WAIT = 5.0
AnyStream = DataStream | DeflateStream | BlockStream
StreamJob = Callable[[AnyStream], Awaitable[int]]
MarkSeen = Callable[[str, str], None]  # (client's marker, server's marker) of a 110 reply


def parse_mark(text: str) -> tuple[str, str] | None:
    """RFC 959's ``MARK yyyy = mmmm`` (the text of a 110 reply): (yyyy, mmmm)."""
    words = text.split()
    if len(words) == 4 and words[0] == "MARK" and words[2] == "=":
        return words[1], words[3]
    return None


class Session(Protocol):
    """What a DataFlow needs of its session (FtpClient): the control connection and commands."""

    options: ClientOptions

    @property
    def ctrl(self) -> ControlConnection: ...

    async def command(self, line: str, timeout: float | None = None) -> Reply: ...

    async def expect(self, line: str, *codes: int) -> Reply: ...

    def status(self, text: str) -> None: ...


class DataFlow:
    """Runs the data transfers of one session; keeps which way data connections are made."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.options = session.options
        self.host = ""  # the server's name, for TLS on data connections
        self.passive = self.options.passive
        self.epsv = self.options.epsv
        self.fell_back = False
        self.prot_p = False
        self.last_data_session_reused = False
        self.mode = "S"  # the transfer mode in use: S stream, Z deflate, B block
        self.data_marker: Callable[[str], None] | None = None  # MODE B markers we receive
        self.control_mark: MarkSeen | None = None  # 110 MARK replies to our markers

    async def run(self, command: str, job: StreamJob, rest: int | str = 0) -> tuple[Reply, int]:
        """Run one data transfer, falling back once from passive to active (or back)."""
        try:
            return await self._once(command, job, rest)
        except DataSetupFailed as exc:
            if not self.options.fallback or self.fell_back:
                raise
            self.fell_back = True
            before, self.passive = self.passive, not self.passive
            was, now = ("Passive", "active mode") if before else ("Active", "passive mode")
            self._session.status(f"{was} data connection failed ({exc}); falling back to {now}.")
            return await self._once(command, job, rest)

    async def _open(self) -> DataOpener:
        session = self._session
        ctrl = session.ctrl
        if not self.passive:
            listener = await ActiveListener.listen(ctrl.local_host, ctrl.peer_host)
            if is_ipv6(listener.host):
                line = f"EPRT {format_eprt_argument(listener.host, listener.port)}"
            else:
                line = f"PORT {format_port_argument(listener.host, listener.port)}"
            reply = await session.command(line)
            if reply.code != 200:
                listener.close()
                raise DataSetupFailed(f"{line.split()[0]} refused: {reply.code} {reply.text}")
            return listener
        host, port = await self._passive_address()
        return await connect_passive(host, port, self.options.timeout)

    async def _passive_address(self) -> tuple[str, int]:
        session = self._session
        peer = session.ctrl.peer_host
        if self.epsv:
            reply = await session.command("EPSV")
            if reply.code == 229:
                try:
                    return peer, parse_229(reply.text)
                except FtpError as exc:
                    raise DataSetupFailed(f"unreadable 229 reply: {exc}") from None
            if reply.code in (421, 530):
                raise ReplyError("EPSV", reply)
            self.epsv = False
            session.status("EPSV refused; using PASV.")
        if is_ipv6(peer):
            raise DataSetupFailed("the server refused EPSV and PASV cannot carry IPv6")
        reply = await session.command("PASV")
        if reply.code != 227:
            if reply.code in (421, 530):
                raise ReplyError("PASV", reply)
            raise DataSetupFailed(f"PASV refused: {reply.code} {reply.text}")
        try:
            announced, port = parse_227(reply.text)
        except FtpError as exc:
            raise DataSetupFailed(f"unreadable 227 reply: {exc}") from None
        host, note = passive_host(announced, peer, self.options.trust_pasv_address)
        if note:
            session.status(note)
        return host, port

    async def _once(self, command: str, job: StreamJob, rest: int | str) -> tuple[Reply, int]:
        session = self._session
        opener = await self._open()
        try:
            if rest:
                await session.expect(f"REST {rest}", 350)
            reply = await session.command(command)
            verb = command.split(" ", 1)[0]
            if reply.code in (425, 426):
                raise DataSetupFailed(f"{reply.code} {reply.text}")
            if reply.code not in (125, 150):
                raise ReplyError(verb, reply)
            try:
                pair = await opener.connected(self.options.timeout)
                moved = await self._run_job(pair, job, verb)
            except DataStalled:
                await self._after_stall()
                raise
            except Exception:
                await self._drain_final_reply()
                raise
            final = await self._confirmation(verb, moved)
            if final.code in (425, 426) and moved == 0:
                raise DataSetupFailed(f"{final.code} {final.text}")
            if not 200 <= final.code < 300:
                raise ReplyError(verb, final)
            return final, moved
        finally:
            opener.close()

    async def _final_reply(self, timeout: float | None = None) -> Reply:
        """The transfer's final reply; 110 MARK replies before it go to ``control_mark``."""
        while True:
            reply = await self._session.ctrl.reply(timeout=timeout)
            if reply.code != 110:
                return reply
            mark = parse_mark(reply.text)
            if mark is not None and self.control_mark is not None:
                self.control_mark(*mark)

    async def _confirmation(self, verb: str, moved: int) -> Reply:
        """The final reply of a transfer whose data connection ended well. A server that sends
        none within ``timeout`` has not confirmed the file whole (it may still be writing it,
        or be stuck): that is a stall at the end, and the control connection is closed, since a
        late 226 would be read as the answer to the next command."""
        try:
            return await self._final_reply()
        except ReplyTimeout:
            self._session.status(
                f"No reply to {verb} after its data; closing the control connection."
            )
            await self._session.ctrl.close()
            text = _unconfirmed(verb, moved, self.options.timeout)
            raise DataStalled(text, "closing", moved) from None

    async def _drain_final_reply(self) -> None:
        """After a failed transfer, read the server's 425/426/226 so the session stays in step."""
        with contextlib.suppress(FtpClientError):
            await self._final_reply(timeout=min(self.options.timeout, DRAIN_WAIT))

    async def _after_stall(self) -> None:
        """The data connection was reset: the server's 426 (or 226) keeps the session in step.

        A server that says nothing is sent ABOR; one that does not answer that either has the
        control connection closed: the session's next command fails as a lost connection, and
        a retry begins with a new one."""
        try:
            await self._final_reply(timeout=min(self.options.timeout, DRAIN_WAIT))
            return
        except ReplyTimeout:
            pass
        except FtpClientError:
            return  # the control connection is gone already
        ctrl = self._session.ctrl
        try:
            await ctrl.send("ABOR")
            wait = min(self.options.timeout, DRAIN_WAIT)
            while (await ctrl.reply(timeout=wait)).code not in (225, 226, 500, 501, 502, 504):
                pass  # 426 for the transfer, then the ABOR's own reply
        except FtpClientError:
            self._session.status("The server does not answer; closing the control connection.")
            await ctrl.close()

    async def _run_job(
        self, pair: tuple[asyncio.StreamReader, asyncio.StreamWriter], job: StreamJob, verb: str
    ) -> int:
        context = self.options.ssl_context if self.prot_p else None
        try:
            async with asyncio.timeout(self.options.timeout):
                stream = await DataStream.open(
                    pair[0], pair[1], context, self.host, self._session.ctrl.tls_session,
                    timeout=self.options.timeout,
                )  # fmt: skip
        except (OSError, TimeoutError) as exc:
            pair[1].close()
            raise DataChannelError(f"{verb}: TLS on the data connection failed: {exc}") from None
        self.last_data_session_reused = stream.session_reused
        layered: AnyStream = stream
        if self.mode == "Z":
            layered = DeflateStream(stream)
        elif self.mode == "B":
            layered = BlockStream(stream, self.data_marker)
        try:
            moved = await job(layered)
            await stream.close()
        except Stall as exc:
            stream.abort()
            raise DataStalled(_stalled(verb, exc), exc.stage, max(exc.sent, exc.received)) from None
        except (OSError, TimeoutError) as exc:
            stream.abort()
            reason = str(exc) or "timed out"
            raise DataChannelError(f"{verb}: data connection broke: {reason}") from None
        except BaseException:  # ours (a local read failed, a listing too long): what went stays
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await stream.close()  # a stall in it resets the connection
            raise
        return moved


def _unconfirmed(verb: str, moved: int, timeout: float) -> str:
    """What a person reads of a transfer whose data ended but whose 226 never came."""
    if verb in ("STOR", "APPE", "STOU"):
        what = f"all {moved} bytes were sent and the data connection closed"
        then = "a retry asks the server how much it has and checks the file"
    elif verb == "RETR":
        what = f"{moved} bytes came and the server ended the data connection"
        then = "a retry checks what arrived against the server's size or hash"
    else:  # a listing
        what = f"{moved} bytes came and the server ended the data connection"
        then = "a retry asks for it again"
    return (
        f"{verb}: the transfer stalled while closing: {what}, but the server did not confirm "
        f"the transfer (no 226 reply) within {timeout:g} s, so it is not counted as done; the "
        f"control connection was closed ({then}; a server that stores files slowly needs a "
        "longer --timeout)"
    )


def _stalled(verb: str, stall: Stall) -> str:
    """What a person reads of a stall: the stage, the bytes, what to check."""
    if stall.stage == "receiving":
        check = "the server may be stuck reading its disk, or a firewall or NAT dropped the flow"
    else:
        check = ("the server may be out of disk space or stuck writing, or a firewall or NAT "
                 "dropped the flow; a resume asks the server how much it has")  # fmt: skip
    return (
        f"{verb}: the data connection stalled while {stall.stage}: {stall}; it was reset "
        f"({check}; --timeout sets how long to wait)"
    )
