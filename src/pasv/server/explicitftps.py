"""Explicit FTPS (AUTH TLS) on a control connection: the upgrade after the 234, the handshake
(implicit FTPS waits for it too), the TLS stream's faults, and CCC back to clear text."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import replace
from typing import TYPE_CHECKING

from pasv.protocol.errors import BadSequence, ServiceUnavailable
from pasv.server.controltls import ControlTls, PeerClosed

if TYPE_CHECKING:
    from pasv.server.control import ControlProtocol
    from pasv.server.vhosts import VirtualHost

log = logging.getLogger("pasv.session")

# After CCC's 200: how long the client has to send its close_notify before we send ours first.
# Any pause keeps ours out of the read that brings the 200 (where lftp takes it for a close).
CCC_GRACE = 0.2


def begin_tls(
    control: ControlProtocol, context: ssl.SSLContext, serving: ssl.SSLContext | None = None
) -> None:
    """Start the TLS handshake once the reply in hand (AUTH's 234) is written.

    Nothing sent in clear after AUTH TLS may be taken as coming through TLS (the STARTTLS
    command-injection attack), so pipelined bytes refuse the upgrade.
    """
    if control.queue or control.urgent or control.pending:
        raise ServiceUnavailable(
            "Commands were sent after AUTH TLS, before the TLS handshake; closing the connection."
        )
    control.transport.pause_reading()
    control.current = asyncio.ensure_future(_upgrade(control, context, serving))


async def _upgrade(
    control: ControlProtocol, context: ssl.SSLContext, serving: ssl.SSLContext | None
) -> None:
    """Runs after the 234 went out in clear: from now on bytes go through ``control.tls``."""
    control.tls = ControlTls(context, control.transport.write, serving)
    control.transport.resume_reading()
    if await handshake(control, context):
        control.drive()


async def handshake(control: ControlProtocol, context: ssl.SSLContext) -> bool:
    """Wait for the handshake of ``control.tls`` (bounded by tls.handshake_timeout); a failed
    one closes the connection (False)."""
    tls = control.tls
    assert tls is not None
    session = control.session
    try:
        async with asyncio.timeout(control.server.settings.tls.handshake_timeout):
            await tls.ready
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
        reason = str(exc) or "timed out"
        log.info("[%d] %s TLS handshake failed: %s", session.id, session.peer_ip, reason)
        control.transport.abort()
        control.connection_lost(exc)
        return False
    if control.gone:
        return False
    session.tls = context
    _tls_host(control, tls.ssl_object)
    control.current = None
    return True


def _tls_host(control: ControlProtocol, conn: ssl.SSLObject | None) -> VirtualHost | None:
    """After a control handshake: the virtual host it was for (the SNI name, else the host
    HOST chose before AUTH), which becomes the session's host and stays fixed."""
    tls, session = control.server.tls, control.session
    assert tls is not None
    name = tls.asked_for(conn)
    host = control.server.hosts.find(name) if name is not None else session.host
    if host is not None:
        session.use_options(replace(session.options, tls_host=host))
        session.host = host
    return host


def decrypt(control: ControlProtocol, data: bytes) -> bytes:
    """The plain text in ``data``; a broken TLS stream or the client's TLS end closes."""
    tls = control.tls
    assert tls is not None
    try:
        data = tls.feed(data)
    except PeerClosed:
        control.close()
        return b""
    except ssl.SSLError as exc:
        session = control.session
        log.info("[%d] %s TLS error: %s", session.id, session.peer_ip, exc)
        control.transport.abort()
        return b""
    if tls.cleared:
        control.tls = None
    return data


def end_tls(control: ControlProtocol) -> None:
    """CCC: the reply in hand (200) is the last one encrypted; then TLS ends with the client's
    close_notify answered by ours, or ours first after ``CCC_GRACE`` (see ``cleared_sent``).

    Commands the client sent through TLS after CCC, before its reply, refuse the CCC.
    """
    if control.queue or control.urgent or control.pending:
        raise BadSequence("CCC must be sent alone: wait for its reply before the next command.")
    control.cleared = True


def cleared_sent(control: ControlProtocol, tls: ControlTls) -> None:
    """CCC's 200 went out (``ControlProtocol.send``): from now on replies go in clear, and
    TLS ends with the client's close_notify, else with ours after ``CCC_GRACE``."""
    tls.clearing = True
    asyncio.get_running_loop().call_later(CCC_GRACE, _ccc_close_notify, control)


def _ccc_close_notify(control: ControlProtocol) -> None:
    """The client did not end TLS itself soon after CCC's 200 (curl waits for us)."""
    if control.tls is not None and not control.closing:
        control.tls.send_close_notify()
