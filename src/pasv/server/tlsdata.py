"""TLS on data connections: the handshake with session-reuse check, and non-blocking I/O.

The TLS socket is an ``ssl.SSLSocket`` in non-blocking mode: OpenSSL encrypts straight into the
socket, a whole 1 MiB buffer per call, and the event loop is only asked to wait when the socket
is full (or empty). asyncio's ``sock_*`` helpers refuse TLS sockets, hence these.

Two rules keep an upload's end honest (docs/reliability.md, "Uploads: what a 226 means"):
- A data connection gets no TLS 1.3 session ticket. A client that uploads never reads its data
  connection; a ticket left unread there turns the client's close into a reset, and the kernel
  drops whatever the client had not sent yet (curl lost the tail of a file this way). Clients
  resume the control connection's session, whose tickets they read with the replies.
- The end of the data is the client's close_notify. A FIN or a reset without one raises
  ``RaggedEnd``: the upload may be cut short, and only the caller can tell whether it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from pasv.protocol.errors import DataTlsFailed
from pasv.server.language import say


class RaggedEnd(Exception):
    """The client ended the TLS data connection without its close_notify (a FIN or a reset)."""


async def wait_ready(sock: socket.socket, *, write: bool) -> None:
    """Wait until ``sock`` is readable (or writable)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = sock.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def secure(
    sock: socket.socket,
    context: ssl.SSLContext,
    *,
    require_reuse: bool,
    timeout: float,
    serving: ssl.SSLContext | None = None,
) -> ssl.SSLSocket:
    """Run the server side of the TLS handshake on an accepted data connection.

    With ``require_reuse`` the client must resume the control connection's TLS session (as
    vsftpd's require_ssl_reuse): only the client that did the control handshake holds it, so a
    third party that raced to the data port cannot take over the transfer.
    """
    tls = _wrap_without_tickets(context, sock)
    if serving is not None:  # a virtual host's certificate, for a client that sends no SNI
        tls.context = serving
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await wait_ready(tls, write=False)
                except ssl.SSLWantWriteError:
                    await wait_ready(tls, write=True)
    except TimeoutError:
        tls.close()
        raise DataTlsFailed(say("tlsdata.tls_handshake_on_the", timeout=timeout)) from None
    except (ssl.SSLError, OSError) as exc:
        tls.close()
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise DataTlsFailed(say("tlsdata.tls_handshake_on_the_2", reason=reason)) from None
    except BaseException:
        tls.close()
        raise
    if require_reuse and not tls.session_reused:
        close(tls)  # a clean TLS end: the client reads no data, then our reply
        raise DataTlsFailed(
            "TLS session reuse required: the data connection must resume the TLS session of "
            "the control connection. Use a client that reuses it (curl, lftp, FileZilla, "
            "WinSCP), or ask the administrator to set tls.require_session_reuse = false."
        )
    return tls


def _wrap_without_tickets(context: ssl.SSLContext, sock: socket.socket) -> ssl.SSLSocket:
    """The server side of a data connection's TLS: no session ticket, and ragged ends seen.

    OpenSSL copies the ticket count into each connection when it is made, so the shared context
    (whose ticket keys let the data connection resume the control session) lends its count of
    0 for this one connection; nothing else runs in between on the event loop.
    """
    tickets = context.num_tickets
    context.num_tickets = 0
    try:
        return context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False, suppress_ragged_eofs=False
        )
    finally:
        context.num_tickets = tickets


async def sendall(sock: ssl.SSLSocket, data: bytes | bytearray | memoryview) -> None:
    """Encrypt and send all of ``data`` (after 'would block', OpenSSL needs the same buffer)."""
    while True:
        try:
            sock.send(data)
            return
        except ssl.SSLWantWriteError:
            await wait_ready(sock, write=True)
        except ssl.SSLWantReadError:
            await wait_ready(sock, write=False)


def try_recv_into(sock: socket.socket, view: memoryview) -> int | None:
    """What has arrived already (0 after the client's close_notify), or None when nothing is
    there yet; ``RaggedEnd`` when the connection ended without a close_notify."""
    try:
        return sock.recv_into(view)
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return None
    except (ssl.SSLEOFError, ConnectionResetError):
        raise RaggedEnd() from None


async def recv_into(sock: socket.socket, view: memoryview) -> int:
    """Receive at least one byte into ``view`` (0 at the end)."""
    while True:
        got = try_recv_into(sock, view)
        if got is not None:
            return got
        await wait_ready(sock, write=False)


def close(sock: ssl.SSLSocket) -> None:
    """Send our close_notify (clients wait for it after an upload), then close; never waits."""
    with contextlib.suppress(OSError, ValueError):
        sock.unwrap()
    sock.close()
