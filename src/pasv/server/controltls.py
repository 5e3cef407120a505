"""TLS on an FTPS control connection, driven through memory buffers so that it can end.

asyncio's TLS transports (``loop.start_tls``) cannot hand the clear connection back, which CCC
(RFC 2228/4217: clear command channel) needs. Implicit FTPS uses the same layer from the first
byte (and no CCC). Here OpenSSL works on two ``ssl.MemoryBIO``: the
control protocol feeds it the bytes that arrive and gets back plain text; replies are encrypted
and written to the same TCP transport.

After CCC's 200 reply the client's close_notify is answered with ours (RFC 4217 §6); bytes that
follow the client's close_notify are plain text already. Clients differ in who closes first:
ftplib, lftp and curl's "active" CCC mode send theirs first (lftp fails if ours comes in the same
read as the 200), curl's default "passive" mode waits for ours, never answers it, and goes on in
clear. So the control connection waits a moment for the client's close_notify before it sends
its own unasked (``send_close_notify``), and a first byte that cannot start a TLS record ends TLS
just as well as a close_notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

# TLS record content types: change_cipher_spec, alert, handshake, application_data. No FTP
# command starts with one of these bytes.
_RECORD_TYPES = frozenset(range(20, 24))
_READ = 64 * 1024


class PeerClosed(Exception):
    """The client ended TLS (its close_notify) without CCC: the connection ends."""


class ControlTls:
    """The server side of one control connection's TLS: bytes in, plain text out."""

    __slots__ = (
        "_closing_in_tls",
        "_in",
        "_obj",
        "_out",
        "_write",
        "cleared",
        "clearing",
        "handshaken",
        "notified",
        "ready",
    )

    def __init__(
        self,
        context: ssl.SSLContext,
        write: Callable[[bytes], None],
        serving: ssl.SSLContext | None = None,
    ) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._in, self._out, server_side=True)
        if serving is not None:  # the certificate to present unless SNI names another host
            self._obj.context = serving
        self._write = write  # the TCP transport's write
        # done when the handshake is: with None, or with the exception that failed it
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.handshaken = False
        self.clearing = False  # CCC answered: TLS ends with the next close_notify
        self.notified = False  # our close_notify is sent
        self.cleared = False  # TLS is over; everything from here on is plain text
        self._closing_in_tls = False  # after CCC the client's first byte was a TLS record's

    @property
    def ssl_object(self) -> ssl.SSLObject:
        return self._obj

    def feed(self, data: bytes) -> bytes:
        """Take bytes from the wire; return the plain text they carry (maybe none yet).

        A failed handshake completes ``ready`` with its error; after the handshake a broken
        record raises ``ssl.SSLError`` and the client's close_notify outside CCC raises
        ``PeerClosed``.
        """
        if self.ready.done() and not self.handshaken:
            return b""  # the handshake failed or timed out: the connection is being closed
        if self.clearing and not self._closing_in_tls and data:
            if data[0] not in _RECORD_TYPES:
                self.cleared = True  # the client went on in clear without its close_notify
                return data
            self._closing_in_tls = True
        self._in.write(data)
        if not self.ready.done():
            self._handshake()
            if not self.handshaken:
                return b""
        return self._read()

    def _handshake(self) -> None:
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except (ssl.SSLError, OSError) as exc:
            self.ready.set_exception(exc)
        else:
            self.handshaken = True
            self.ready.set_result(None)
        self._flush()  # our handshake messages, TLS 1.3 session tickets, or an alert

    def _read(self) -> bytes:
        chunks: list[bytes] = []
        try:
            while chunk := self._obj.read(_READ):
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            self._flush()
            return b"".join(chunks)
        except ssl.SSLZeroReturnError:
            pass
        # the client's close_notify
        if not self.clearing:
            raise PeerClosed
        self._obj.unwrap()  # ours goes out now if it has not yet: TLS is over
        self._flush()
        self.notified = self.cleared = True
        chunks.append(self._in.read())  # what came after it is plain text
        return b"".join(chunks)

    def send(self, data: bytes) -> None:
        """Encrypt and write ``data``; after CCC, write it in clear."""
        if self.clearing:
            self._write(data)
            return
        self._obj.write(data)
        self._flush()

    def send_close_notify(self) -> None:
        """Our close_notify, unless TLS is over or it went out already."""
        if self.notified or self.cleared or not self.handshaken:
            return
        self.notified = True
        with contextlib.suppress(ssl.SSLError):  # WantRead: the client's is not in yet
            self._obj.unwrap()
        self._flush()

    def _flush(self) -> None:
        pending = self._out.read()
        if pending:
            self._write(pending)
