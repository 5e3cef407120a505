"""When TLS is required, and the checks that enforce it at login and on data connections."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from pasv.config import TlsSection
from pasv.policy.options import PolicySettings
from pasv.protocol.errors import NotLoggedIn, PolicyDenied
from pasv.server import tlsdata
from pasv.server.session import Session


@dataclass(frozen=True, slots=True)
class TlsRequirement:
    login: bool  # USER/PASS only on a TLS control connection
    data: bool  # transfers only with PROT P


def tls_required(settings: PolicySettings, tls: TlsSection, *, anonymous: bool) -> TlsRequirement:
    """The one decision: what this login must protect. ``settings`` are the user's resolved
    policy settings (global, then its groups, then its own), which start from the [tls]
    section's require_login_tls/require_data_tls."""
    exempt = anonymous and tls.anonymous_exempt
    return TlsRequirement(
        login=settings.require_tls_login and not exempt,
        data=settings.require_tls_data and not exempt,
    )


def check_login(s: Session, name: str, *, anonymous: bool) -> None:
    """Refuse USER in clear where TLS is required for that user (so no password is ever sent
    or processed)."""
    policy = s.server.gate.policy
    if not policy.tls_logins or s.control.encrypted:
        return
    settings = policy.settings_for_name(name, anonymous=anonymous)
    if tls_required(settings, s.server.settings.tls, anonymous=anonymous).login:
        raise NotLoggedIn(policy.messages.say("tls_required"))


def data_protection_required(s: Session) -> bool:
    user = s.user
    anonymous = user is not None and user.anonymous
    return tls_required(s.settings, s.server.settings.tls, anonymous=anonymous).data


def check_data_protection(s: Session) -> None:
    """Before a transfer: refuse a clear data connection where PROT P is required."""
    if not s.protected and data_protection_required(s):
        raise PolicyDenied(
            "Data connections must be encrypted here: send PBSZ 0 and PROT P (after AUTH TLS)."
        )


async def secure_data(s: Session, sock: socket.socket) -> ssl.SSLSocket:
    """TLS on a PROT P data connection, with the control connection's context."""
    assert s.tls is not None, "PROT P needs AUTH TLS first"
    cfg = s.server.settings.tls
    tls = s.server.tls
    host = s.options.tls_host
    serving = tls.serving_for(host.name) if tls is not None and host is not None else None
    return await tlsdata.secure(
        sock,
        s.tls,
        require_reuse=cfg.require_session_reuse,
        timeout=cfg.handshake_timeout,
        serving=serving,
    )
