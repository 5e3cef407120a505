"""USER, PASS, ACCT, REIN, QUIT and HOST: who the client is."""

from __future__ import annotations

import asyncio
import logging

from pasv.accounts.sqlbase import StoreUnavailable
from pasv.policy.models import User
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    BadSequence,
    FtpError,
    LoginRefused,
    NotLoggedIn,
    ServiceUnavailable,
)
from pasv.protocol.replies import Reply, make_reply
from pasv.server.cluster import unavailable
from pasv.server.handlers import HandlerResult, command
from pasv.server.session import Session
from pasv.server.tlspolicy import check_login
from pasv.storage.base import Storage

log = logging.getLogger("pasv.auth")

ANONYMOUS_NAMES = frozenset({"anonymous", "ftp"})
_GOODBYE = make_reply(ReplyCode.CLOSING, "Goodbye.")


@command("USER")
def user(s: Session, arg: str) -> Reply:
    if s.user is not None:
        # RFC 959 allows a change of user; we ask for a fresh login instead of mixing identities.
        s.reset()
    name = arg.strip()
    anonymous = name.lower() in ANONYMOUS_NAMES
    check_login(s, name, anonymous=anonymous)
    if anonymous:
        if not s.server.settings.anonymous.enabled:
            raise LoginRefused(s.server.gate.policy.messages.no_anonymous)
        s.pending_user = "anonymous"
        return make_reply(
            ReplyCode.NEED_PASSWORD, "Guest login ok, send your e-mail address as password."
        )
    s.pending_user = name
    return make_reply(ReplyCode.NEED_PASSWORD, f"Password required for {name}.")


@command("PASS")
def password(s: Session, arg: str) -> HandlerResult:
    name = s.pending_user
    assert name is not None
    s.pending_user = None
    server = s.server
    found: User | None
    if name == "anonymous":
        found = server.anonymous_user()
        log.info("[%d] %s anonymous login, e-mail given: %r", s.id, s.peer_ip, arg[:100])
    else:
        found = server.accounts.authenticate_cached(name, arg)
    if found is not None:
        storage = server.cached_storage(found)
        if storage is not None and server.cluster is None:
            return _welcome(s, found, storage)  # a repeat login: answered at once, no task
    return _check_password(s, name, arg, found)


async def _check_password(s: Session, name: str, arg: str, found: User | None) -> Reply:
    server = s.server
    if found is None:
        try:
            found = await server.accounts.authenticate(name, arg)
        except StoreUnavailable as exc:  # running sessions go on; new logins wait for it
            log.warning("[%d] %s login refused: %s", s.id, s.peer_ip, exc)
            raise unavailable(exc) from None
    if found is None:
        s.failures += 1
        limit = server.settings.login.max_failures
        log.info("[%d] %s login failed for %r (%d of %d)", s.id, s.peer_ip, name, s.failures, limit)
        await asyncio.sleep(server.settings.login.failure_delay)
        server.gate.login_failed(s.peer_ip)  # too many from this address: banned, 421
        texts = server.gate.policy.messages
        if s.failures >= limit:
            raise ServiceUnavailable(texts.too_many_failures.format(count=s.failures))
        raise NotLoggedIn(texts.login_incorrect)
    storage = await server.storage_for(found)
    if server.cluster is not None:  # IP rules and session limits, counted on every node
        return _welcome(s, await server.gate.admit(s, found), storage, admitted=True)
    return _welcome(s, found, storage)


def _welcome(s: Session, user: User, storage: Storage, *, admitted: bool = False) -> Reply:
    if not admitted:
        user = s.server.gate.login(s, user)  # IP rules and session limits
    s.storage = storage
    s.user = user
    s.cwd = "/"
    log.info("[%d] %s logged in as %s", s.id, s.peer_ip, user.name)
    s.server.sessionlog.record("login", s.peer_ip, user.name, ReplyCode.LOGGED_IN, "")
    if user.anonymous:
        return make_reply(ReplyCode.LOGGED_IN, "Guest login ok, access restrictions apply.")
    return make_reply(ReplyCode.LOGGED_IN, f"User {user.name} logged in, proceed.")


@command("ACCT")
def account(s: Session, arg: str) -> Reply:
    return make_reply(
        ReplyCode.NOT_IMPLEMENTED_SUPERFLUOUS, "ACCT not needed: no account is required here."
    )


@command("REIN")
def reinitialize(s: Session, arg: str) -> Reply:
    if s.transfer is not None:
        raise FtpError(
            "REIN waits for the transfer in progress; send it again after.",
            code=ReplyCode.BAD_SEQUENCE,
        )
    s.reset()
    return make_reply(ReplyCode.SERVICE_READY, "Session reset; log in again with USER and PASS.")


@command("QUIT")
def quit_(s: Session, arg: str) -> Reply:
    return _GOODBYE


@command("HOST")
def host(s: Session, arg: str) -> Reply:
    if s.user is not None or s.pending_user is not None:
        raise BadSequence("HOST must come before USER.")
    return make_reply(
        ReplyCode.SERVICE_READY, f"Host {arg.strip()} accepted; this server has one site."
    )
