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
    ParameterNotImplemented,
    ServiceUnavailable,
)
from pasv.protocol.replies import Reply, make_reply
from pasv.server import vhosts
from pasv.server.cluster import unavailable
from pasv.server.handlers import HandlerResult, command
from pasv.server.language import say
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
    try:
        check_login(s, name, anonymous=anonymous)
    except FtpError:
        s.server.events.login_failed(s, name, "tls_required")
        raise
    if anonymous:
        host = s.host
        if not s.server.settings.anonymous.enabled or (
            host is not None and not host.admits_anonymous()
        ):
            s.server.events.login_failed(s, name, "anonymous_disabled")
            raise LoginRefused(s.server.gate.policy.messages.say("no_anonymous"))
        s.pending_user = "anonymous"
        return make_reply(
            ReplyCode.NEED_PASSWORD, "Guest login ok, send your e-mail address as password."
        )
    s.pending_user = name
    return make_reply(ReplyCode.NEED_PASSWORD, say("auth.password_required", name=_shown(name)))


def _shown(name: str) -> str:
    """A user name as a reply repeats it: control characters (an escape sequence for the
    client's terminal, a NUL) as '?', and no more than 64 characters of it."""
    text = "".join(c if c.isprintable() else "?" for c in name[:65])
    return text if len(text) <= 64 else text[:64] + "…"


@command("PASS")
def password(s: Session, arg: str) -> HandlerResult:
    name = s.pending_user
    assert name is not None
    s.pending_user = None
    server = s.server
    found: User | None
    if name == "anonymous":
        found = server.anonymous_user(s.host)
        log.info("[%d] %s anonymous login, e-mail given: %r", s.id, s.peer_ip, arg[:100])
    else:
        found = server.accounts.authenticate_cached(name, arg)
        if found is not None and not _on_this_host(s, found):
            return _check_password(s, name, arg, None, elsewhere=True)
    if found is not None:
        storage = server.cached_storage(found, s.host)
        if storage is not None and server.cluster is None:
            return _welcome(s, found, storage)  # a repeat login: answered at once, no task
    return _check_password(s, name, arg, found)


def _on_this_host(s: Session, user: User) -> bool:
    """Whether the account may log in on the session's virtual host; logged when not."""
    host = s.host
    if host is None or host.admits(user):
        return True
    log.info("[%d] %s %r is not a user of host %s", s.id, s.peer_ip, user.name, host.name)
    return False


async def _check_password(
    s: Session, name: str, arg: str, found: User | None, *, elsewhere: bool = False
) -> Reply:
    server = s.server
    if found is None and not elsewhere:
        try:
            found = await server.accounts.authenticate(name, arg)
        except StoreUnavailable as exc:  # running sessions go on; new logins wait for it
            log.warning("[%d] %s login refused: %s", s.id, s.peer_ip, exc)
            raise unavailable(exc) from None
        if found is not None and not _on_this_host(s, found):
            found = None
    if found is None:
        s.failures += 1
        limit = server.settings.login.max_failures
        log.info("[%d] %s login failed for %r (%d of %d)", s.id, s.peer_ip, name, s.failures, limit)
        await asyncio.sleep(server.settings.login.failure_delay)
        server.events.login_failed(s, name, "password")
        server.gate.login_failed(s.peer_ip)  # too many from this address: banned, 421
        texts = server.gate.policy.messages
        if s.failures >= limit:
            raise ServiceUnavailable(texts.say("too_many_failures", count=s.failures))
        raise NotLoggedIn(texts.say("login_incorrect"))
    storage = await server.storage_for(found, s.host)
    if server.cluster is not None:  # IP rules and session limits, counted on every node
        try:
            counted = await server.gate.admit(s, found)
        except FtpError:
            server.events.login_failed(s, found.name, "refused")
            raise
        return _welcome(s, counted, storage, admitted=True)
    return _welcome(s, found, storage)


def _welcome(s: Session, user: User, storage: Storage, *, admitted: bool = False) -> Reply:
    events = s.server.events
    if not admitted:
        try:
            user = s.server.gate.login(s, user)  # IP rules and session limits
        except FtpError:
            events.login_failed(s, user.name, "refused")
            raise
    events.logged_in()
    s.storage = storage
    s.user = user
    if s.login_name == user.name:
        s.login_name = user.name  # one string for the sessions of an account (the User's)
    s.cwd = "/"
    s.control.stop_login_timer()
    log.info("[%d] %s logged in as %s", s.id, s.peer_ip, user.name)
    s.server.sessionlog.record("login", s.peer_ip, user.name, ReplyCode.LOGGED_IN, "")
    if user.anonymous:
        return make_reply(ReplyCode.LOGGED_IN, "Guest login ok, access restrictions apply.")
    return make_reply(ReplyCode.LOGGED_IN, say("auth.logged_in", name=user.name))


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
    """RFC 7151: choose the virtual host before login; 220 with its banner, 504 when unknown."""
    if s.user is not None or s.pending_user is not None:
        raise BadSequence("HOST must come before USER.")
    wanted = arg.strip()
    hosts = s.server.hosts
    if not hosts:
        return make_reply(ReplyCode.SERVICE_READY, say("auth.one_site", name=wanted[:255]))
    if vhosts.is_address(wanted):  # an IP literal names no virtual host: the default site
        chosen = hosts.default
    else:
        chosen = hosts.find(wanted)
        if chosen is None:
            raise ParameterNotImplemented(say("auth.unknown_host_v_no", v1=wanted[:255]))
    if s.options.tls_host is not None and chosen is not s.options.tls_host:
        raise ParameterNotImplemented(
            say("auth.host_v_does_not", v1=wanted[:255], name=s.options.tls_host.name)
        )
    s.host = chosen
    if chosen is None:
        cfg = s.server.settings.server
        return make_reply(ReplyCode.SERVICE_READY, cfg.banners.get(s.lang, cfg.banner))
    return chosen.greeting(s.lang)
