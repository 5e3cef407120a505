"""The control connection: send one command, read its reply; TLS upgrade; every line traced."""

from __future__ import annotations

import asyncio
import ssl

from pasv.client.errors import CertificateRejected, ConnectionFailed, FtpClientError, ReplyTimeout
from pasv.client.trace import Kind, Tracer, censor
from pasv.protocol.errors import ProtocolViolation
from pasv.protocol.replies import Reply, ReplyParser

__all__ = ["FATAL_PREFIX", "ControlConnection", "close_stream", "feature_table"]

FATAL_PREFIX = "OOPS: "  # "500 OOPS: vsf_sysutil_bind": a server error that ends the session
CLOSE_WAIT = 2.0  # seconds a clean end of the control connection may take


def feature_table(reply: Reply) -> dict[str, str]:
    """FEAT's reply as {upper-case name: its arguments}; empty unless the reply is 211."""
    found: dict[str, str] = {}
    if reply.code == 211:
        for line in reply.lines[1:-1]:
            name, _, args = line.strip().partition(" ")
            if name:
                found[name.upper()] = args.strip()
    return found


def _quiet(kind: Kind, text: str) -> None:
    """The default tracer: says nothing."""


class ControlConnection:
    """One control connection; ``command`` sends a line and returns the next reply."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        encoding: str = "utf-8",
        timeout: float = 30.0,
        trace: Tracer | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.encoding = encoding
        self.timeout = timeout
        self.trace: Tracer = trace or _quiet
        self._parser = ReplyParser(encoding)
        self._pending: list[Reply] = []

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        encoding: str = "utf-8",
        timeout: float = 30.0,
        trace: Tracer | None = None,
    ) -> ControlConnection:
        """Connect (with TLS from the first byte when ``context`` is given: implicit FTPS)."""
        tracer = trace or _quiet
        tracer("Status", f"Connecting to {host}:{port}{' (implicit TLS)' if context else ''}...")
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=server_hostname if context else None
                )
        except TimeoutError:
            raise ConnectionFailed(f"connection to {host}:{port} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            raise CertificateRejected(f"TLS with {host}:{port} failed: {_why(exc)}") from None
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"TLS with {host}:{port} failed: {exc.reason or exc}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ConnectionFailed(f"cannot connect to {host}:{port}: {reason}") from None
        return cls(reader, writer, encoding=encoding, timeout=timeout, trace=trace)

    def _address(self, key: str) -> str:
        info = self._writer.get_extra_info(key)
        return str(info[0]).split("%", 1)[0] if info else ""

    @property
    def peer_host(self) -> str:
        return self._address("peername")

    @property
    def local_host(self) -> str:
        return self._address("sockname")

    @property
    def tls_session(self) -> ssl.SSLSession | None:
        obj = self._writer.get_extra_info("ssl_object")
        return obj.session if isinstance(obj, ssl.SSLObject | ssl.SSLSocket) else None

    @property
    def is_tls(self) -> bool:
        return self._writer.get_extra_info("ssl_object") is not None

    async def send(self, line: str) -> None:
        if "\r" in line or "\n" in line or "\0" in line:  # the rest would be a command
            raise ValueError(  # a bad argument (a name, a password), not the server's doing
                f"{censor(line)!r} contains a line break or NUL, which no FTP command can"
                " carry; not sent"
            )
        try:
            raw = line.encode(self.encoding, "surrogateescape") + b"\r\n"
        except UnicodeEncodeError:
            shown = censor(line)
            raise FtpClientError(f"{shown!r} cannot be written in {self.encoding}") from None
        self.trace("Command", censor(line))
        try:
            self._writer.write(raw)
            await self._writer.drain()
        except OSError as exc:
            raise ConnectionFailed(f"connection lost while sending: {exc}") from None

    async def reply(self, timeout: float | None = None) -> Reply:
        """The next complete reply (multi-line replies joined)."""
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                while not self._pending:
                    data = await self._reader.read(65536)
                    if not data:
                        raise ConnectionFailed("the server closed the control connection")
                    self._pending.extend(self._parser.feed(data))
        except TimeoutError:
            raise ReplyTimeout("timed out waiting for the server's reply") from None
        except ProtocolViolation as exc:
            raise ConnectionFailed(str(exc)) from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionFailed(f"connection lost: {exc}") from None
        reply = self._pending.pop(0)
        for i, line in enumerate(reply.lines):
            sep = " " if i == len(reply.lines) - 1 else "-"
            self.trace("Response", f"{reply.code}{sep}{line}" if i == 0 else line)
        if reply.code == 500 and reply.lines[0].startswith(FATAL_PREFIX):
            # vsftpd's die(): the session process has exited and the connection is closing.
            raise ConnectionFailed(f"the server failed and ended the session: 500 {reply.text}")
        return reply

    async def command(self, line: str, timeout: float | None = None) -> Reply:
        await self.send(line)
        return await self.reply(timeout)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade after ``AUTH TLS`` was accepted."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._writer.start_tls(context, server_hostname=server_hostname)
        except TimeoutError:
            raise ConnectionFailed("TLS handshake timed out") from None
        except ssl.SSLCertVerificationError as exc:
            raise CertificateRejected(f"TLS handshake failed: {_why(exc)}") from None
        except ssl.SSLError as exc:
            raise ConnectionFailed(f"TLS handshake failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise ConnectionFailed(f"connection lost during TLS handshake: {exc}") from None
        version = self._writer.get_extra_info("ssl_object")
        shown = version.version() if isinstance(version, ssl.SSLObject) else "TLS"
        self.trace("Status", f"TLS connection established ({shown}).")

    async def close(self) -> None:
        await close_stream(self._writer)


def _why(exc: ssl.SSLCertVerificationError) -> str:
    """OpenSSL's own words: "self-signed certificate", "Hostname mismatch" …"""
    return f"the server's certificate was not accepted: {exc.verify_message or exc.reason}"


async def close_stream(writer: asyncio.StreamWriter, wait: float = CLOSE_WAIT) -> None:
    """Close a connection, over TLS with close_notify first. A peer that does not end TLS
    within ``wait`` seconds (busy, or one that never answers close_notify) has the connection
    dropped: the socket is closed when this returns, never left to the event loop's TLS
    shutdown timeout (30 s), which may outlive the loop itself."""
    if not writer.transport.is_closing():
        writer.close()  # once only: a second close() of a TLS transport makes abort() a no-op
    # wait_closed() awaits the protocol's one "closed" future, which a timeout would cancel
    # for good; a task of its own is shielded instead, and awaited again after an abort
    closing = asyncio.ensure_future(writer.wait_closed())
    closing.add_done_callback(_retrieve)
    try:
        async with asyncio.timeout(wait):
            await asyncio.shield(closing)
        return
    except TimeoutError:  # before OSError, of which it is a subclass
        writer.transport.abort()  # the socket closes on the loop's next turn
    except (OSError, ssl.SSLError):
        return  # it ended with an error: closed all the same
    try:
        async with asyncio.timeout(wait):
            await asyncio.shield(closing)
    except (OSError, ssl.SSLError, TimeoutError):
        pass
    finally:
        closing.cancel()  # done by now; if not, nothing is left waiting for it


def _retrieve(task: asyncio.Future[None]) -> None:
    """Mark the outcome of a close as seen (its errors mean the connection is gone anyway)."""
    if not task.cancelled():
        task.exception()
