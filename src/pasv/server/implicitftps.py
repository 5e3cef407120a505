"""Implicit FTPS (ftps://): a connection admitted as it is accepted, its TLS handshake, then
the greeting, or the refusal said over TLS."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from pasv.protocol.replies import Reply
from pasv.server import explicitftps
from pasv.server.controltls import ControlTls

if TYPE_CHECKING:
    from pasv.server.control import ControlProtocol

# Refused connections (banned, over a limit) that may handshake at once to be told why; beyond
# them a refused connection is closed before any TLS work.
REFUSALS_OVER_TLS = 32


def admit(control: ControlProtocol) -> None:
    """Admit (or refuse) the connection as it is accepted, as on the plain port: one still
    in its handshake counts against the connection limits, and bans and IP rules apply
    before any TLS work. A refusal is said over TLS (a client reads nothing else here),
    by at most ``REFUSALS_OVER_TLS`` handshakes at a time; beyond them it is closed."""
    server = control.server
    refusal = server.session_opened(control)
    if refusal is not None:
        if server.refusing_over_tls >= REFUSALS_OVER_TLS:
            control.closing = True
            control.transport.abort()
            return
        server.refusing_over_tls += 1
    assert server.tls is not None
    # from the first byte everything goes through TLS (data_received feeds it)
    context = server.tls.session_context()
    control.tls = ControlTls(context, control.transport.write)
    control.current = server.loop.create_task(_handshake(control, context, refusal))


async def _handshake(
    control: ControlProtocol, context: ssl.SSLContext, refusal: Reply | None
) -> None:
    """The TLS handshake on the implicit port (bounded by tls.handshake_timeout), then
    the greeting, or the refusal and the close."""
    try:
        done = await explicitftps.handshake(control, context)
    finally:
        if refusal is not None:
            control.server.refusing_over_tls -= 1
    if not done:
        return
    if refusal is not None:
        control.send(refusal)
        control.close()
        return
    control.greet()
    control.drive()  # draining meanwhile: the 421 now
