"""The one place commands are checked, routed to handlers, and refusals turned into replies."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from pasv.accounts.sqlbase import StoreUnavailable
from pasv.protocol.codes import ReplyCode
from pasv.protocol.commands import Arg, lookup
from pasv.protocol.errors import BadSequence, CommandUnrecognized, FtpError, LocalError
from pasv.protocol.parser import Command
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import HANDLERS
from pasv.server.language import default_said, say
from pasv.server.session import Session

log = logging.getLogger("pasv.server")

# State transitions, in one table (convention 4).
# A command listed here needs the named command to have set up its state first ...
REQUIRES: dict[str, str] = {"PASS": "USER", "RNTO": "RNFR"}
# ... and the state a command sets up is dropped by any next command not listed here.
# REST keeps only across what real clients send between it and the transfer (the transfer's
# parameters, its data connection and protection, ALLO; NOOP and STAT change nothing, RFC 959)
# and is taken by the transfer, which consumes it even when refused (RETR, STOR, APPE, STOU
# take it first). Anything else (SIZE, LIST, CWD, ...) clears it: RFC 3659 section 5.
KEEPS: dict[str, frozenset[str]] = {
    "RNFR": frozenset({"RNTO"}),
    "REST": frozenset(
        {
            *("TYPE", "MODE", "STRU", "PASV", "EPSV", "PORT", "EPRT", "PBSZ", "PROT", "ALLO"),
            *("REST", "NOOP", "STAT", "RETR", "STOR", "APPE", "STOU"),
        }
    ),
}
_KEEP_REST = KEEPS["REST"]
_TAKE_REST = frozenset({"RETR", "STOR", "APPE", "STOU"})

# On Python 3.11 an enum member read through its class costs ten times a global (the class's
# __getattr__ hook runs on every read); these are read twice per command.
_REQUIRED, _NONE = Arg.REQUIRED, Arg.NONE


def error_reply(exc: FtpError) -> Reply:
    """The reply for a refusal: its code and its reason (sayable in the session's language)."""
    return make_reply(exc.code, default_said(exc))


def refusal(session: Session, exc: FtpError) -> Reply:
    """A refusal's reply, counted (by code and class) on its way out."""
    session.server.events.refused(session, exc)
    return error_reply(exc)


def dispatch(session: Session, item: Command | FtpError) -> Reply | Coroutine[Any, Any, Reply]:
    """Check one command centrally and run its handler; a coroutine means 'still running'."""
    if isinstance(item, FtpError):
        return refusal(session, item)
    spec = lookup(item.name)
    if spec is None:
        shown = item.name[:20]
        return refusal(session, CommandUnrecognized(say("dispatch.unknown_command", name=shown)))
    name = spec.alias_of or spec.name
    _drop_stale_state(session, name)
    try:
        if spec.arg is _REQUIRED and not item.arg.strip():
            raise FtpError(
                say("dispatch.name_needs_an_argument", name=spec.name, help=spec.help),
                code=ReplyCode.ARGUMENT_ERROR,
            )
        if spec.arg is _NONE and item.arg.strip():
            raise FtpError(
                say("dispatch.name_takes_no_argument", name=spec.name, help=spec.help),
                code=ReplyCode.ARGUMENT_ERROR,
            )
        if spec.needs_login and session.user is None:
            raise FtpError("Please log in with USER and PASS first.", code=ReplyCode.NOT_LOGGED_IN)
        _check_sequence(session, name)
        result = HANDLERS[name](session, item.arg)
    except FtpError as exc:
        if name in _TAKE_REST:  # a transfer refused before its handler (501, 530) used it up
            session.rest = 0
        return refusal(session, exc)
    except StoreUnavailable as exc:
        log.warning("[%d] %s failed: %s", session.id, name, exc)
        return refusal(session, LocalError(say("dispatch.store_unavailable", reason=str(exc))))
    except Exception:
        log.exception("[%d] handler for %s failed", session.id, name)
        return refusal(
            session, LocalError("Internal error; the failure was logged. Your session goes on.")
        )
    return result


def _drop_stale_state(session: Session, name: str) -> None:
    if session.rest and name not in _KEEP_REST:
        session.rest = 0
    if session.rename_from is not None and name not in KEEPS["RNFR"] and name != "RNFR":
        session.rename_from = None


def _check_sequence(session: Session, name: str) -> None:
    needed = REQUIRES.get(name)
    if needed == "USER" and session.pending_user is None:
        if session.user is not None:
            raise BadSequence("Already logged in.")
        raise BadSequence("Login with USER first.")
    if needed == "RNFR" and session.rename_from is None:
        raise BadSequence("RNTO must come right after RNFR.")


async def run_guarded(session: Session, pending: Coroutine[Any, Any, Reply]) -> Reply:
    """Await a handler; refusals become replies and nothing unexpected reaches the client."""
    try:
        return await pending
    except Exception as exc:
        return failure_reply(session, exc)


def failure_reply(session: Session, exc: Exception) -> Reply:
    """The reply for a handler that raised: its refusal, or an internal error (logged)."""
    if isinstance(exc, FtpError):
        return refusal(session, exc)
    if isinstance(exc, StoreUnavailable):  # the database is away (credits, quotas): say so
        log.warning("[%d] command failed: %s", session.id, exc)
        return refusal(session, LocalError(say("dispatch.store_unavailable", reason=str(exc))))
    log.error("[%d] command failed", session.id, exc_info=exc)
    return refusal(
        session, LocalError("Internal error; the failure was logged. Your session goes on.")
    )
