"""AUTH, PBSZ, PROT and CCC (RFC 2228, RFC 4217): explicit FTPS."""

from __future__ import annotations

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    ArgumentError,
    BadSequence,
    FtpError,
    NotImplementedCommand,
    ParameterNotImplemented,
    PolicyDenied,
)
from pasv.protocol.replies import Reply, make_reply
from pasv.server import explicitftps
from pasv.server.handlers import command
from pasv.server.language import say
from pasv.server.session import Session
from pasv.server.tlspolicy import data_protection_required

AUTH_MECHANISMS = frozenset({"TLS", "TLS-C", "SSL"})


@command("AUTH")
def auth(s: Session, arg: str) -> Reply:
    tls = s.server.tls
    if tls is None:
        raise NotImplementedCommand("AUTH not available: TLS is turned off on this server.")
    mechanism = arg.strip().upper()
    if mechanism not in AUTH_MECHANISMS:
        raise ParameterNotImplemented(say("security.auth_v_not_supported", v1=mechanism[:20]))
    if s.control.cleared:
        raise BadSequence("TLS on this control connection was ended by CCC; it stays in clear.")
    if s.tls is not None:
        raise BadSequence("The control connection is already protected by TLS.")
    # RFC 4217: the login that follows happens under TLS; an earlier one does not carry over.
    if s.user is not None or s.pending_user is not None:
        s.reset()
    # HOST came first: present its certificate to a client that sends no server name (SNI)
    explicitftps.begin_tls(
        s.control, tls.session_context(), tls.serving_for(s.host.name if s.host else None)
    )
    return make_reply(ReplyCode.AUTH_OK, say("security.auth_ok", mechanism=mechanism))


@command("PBSZ")
def pbsz(s: Session, arg: str) -> Reply:
    if s.tls is None:
        raise BadSequence("PBSZ needs AUTH TLS first.")
    value = arg.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:  # not '²' or '٣'
        raise ArgumentError(say("security.pbsz_needs_a_number", v1=value[:20]))
    s.pbsz = True
    return make_reply(ReplyCode.OK, "PBSZ=0")


@command("PROT")
def prot(s: Session, arg: str) -> Reply:
    level = arg.strip().upper()
    if s.tls is None:
        raise BadSequence("PROT needs AUTH TLS first.")
    if not s.pbsz:
        raise BadSequence("PROT needs PBSZ first (send PBSZ 0).")
    if level == "C":
        if data_protection_required(s):
            raise PolicyDenied(
                "PROT C refused: data connections must be encrypted here; use PROT P."
            )
        s.protected = False
        return make_reply(ReplyCode.OK, "Protection level set to Clear.")
    if level == "P":
        s.protected = True
        return make_reply(ReplyCode.OK, "Protection level set to Private (TLS).")
    if level in ("S", "E"):
        raise FtpError(
            say("security.prot_level_is_not", level=level),
            code=ReplyCode.PROT_LEVEL_NOT_SUPPORTED,
        )
    raise ParameterNotImplemented(say("security.unknown_protection_level_v", v1=level[:20]))


@command("CCC")
def ccc(s: Session, arg: str) -> Reply:
    control = s.control
    if s.tls is None:
        raise BadSequence("CCC: the control connection is not protected by TLS.")
    if control.cleared:
        raise BadSequence("CCC: the control connection is in clear already.")
    if not s.server.settings.tls.allow_ccc:
        raise FtpError(
            "CCC refused: the control connection stays encrypted on this server "
            "(tls.allow_ccc = false).",
            code=ReplyCode.PROTECTION_DENIED,
        )
    if control.implicit:
        raise FtpError("CCC is not available on implicit TLS.", code=ReplyCode.PROTECTION_DENIED)
    explicitftps.end_tls(control)
    return make_reply(ReplyCode.OK, "CCC ok; the control connection continues in clear.")
