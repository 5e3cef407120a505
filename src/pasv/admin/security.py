"""Who may call: bearer tokens for the API; a cookie session with a CSRF token for the console."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from pasv.accounts.base import MAX_NAME_LENGTH
from pasv.admin.context import AdminContext, Principal
from pasv.policy.limits import minutes_left
from pasv.policy.network import parse_ip

COOKIE = "pasv_console"
SESSION_SECONDS = 8 * 3600
_MAX_SESSIONS = 1000
LOGIN_FAILURES = 5  # console password logins that may fail as one name from one address ...
ADDRESS_FAILURES = 20  # ... and for all names together from one address ...
LOGIN_WINDOW = 300.0  # ... within this many seconds
_MAX_ADDRESSES = 10_000


def context_of(request: Request) -> AdminContext:
    ctx: AdminContext = request.app.state.ctx
    return ctx


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


async def token_principal(request: Request, scope: str) -> Principal:
    """The caller of an API request, or 401/403 saying why not. Failed tokens are throttled
    per client address (``tried_tokens``): past the limit, 429 without the token looked up."""
    header = request.headers.get("authorization", "")
    kind, _, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "no token: send the header Authorization: Bearer <token>")
    ctx, address = context_of(request), _address(request)
    target = f"{request.method} {request.url.path}"
    wait = tried_tokens(request).wait(address)
    if wait:
        raise HTTPException(
            429,
            f"too many failed tokens from {address}: try again in {minutes_left(wait, 0.0)} min",
            headers={"Retry-After": str(round(wait))},
        )
    # in a thread: this loop is the FTP server's, and the account database may wait
    token = await asyncio.to_thread(ctx.tokens.verify, secret.strip())
    if token is None or token.revoked is not None:
        why = "unknown token" if token is None else f"token {token.id} ({token.name}) was revoked"
        actor = "unknown token" if token is None else f"token:{token.id}:{token.name}"
        token_failed(request, Principal(actor, (), address), "api.token", target, why)
        raise HTTPException(401, why)
    who = Principal(f"token:{token.id}:{token.name}", token.scopes, address)
    request.state.principal = who  # a refused change is audited with it (admin.errors)
    if scope not in token.scopes:
        raise HTTPException(
            403,
            f"token {token.id} ({token.name}) has scope {','.join(token.scopes)}; "
            f"this needs {scope}",
        )
    return who


def tried_tokens(request: Request) -> LoginThrottle:
    """Failed tokens (API and console) per client address; console passwords have their own."""
    found: LoginThrottle = request.app.state.tokens
    return found


def token_failed(request: Request, who: Principal, action: str, target: str, why: str) -> None:
    """Count a failed token against its address, and audit it (at most the throttle's limit
    per address and window reach this: an address past it is refused before the lookup)."""
    throttle = tried_tokens(request)
    throttle.failed(who.address)
    detail: dict[str, object] = {"status": 401, "error": why}
    if throttle.wait(who.address):
        detail["throttled"] = f"further tokens refused for {round(throttle.window)} s"
    context_of(request).audited(who, action, target, detail, False)


async def reader(request: Request) -> Principal:
    return await token_principal(request, "read")


async def writer(request: Request) -> Principal:
    return await token_principal(request, "write")


@dataclass
class ConsoleSession:
    actor: str
    scopes: tuple[str, ...]
    csrf: str
    expires: float
    token_id: int | None = None  # logged in with a token: revoking it ends the session
    # logged in with an account: its name and a digest of its password hash then; a changed
    # password, a disabled or deleted account or one out of the console group ends the session
    account: tuple[str, str] | None = None
    flash: list[str] = field(default_factory=list)


class ConsoleSessions:
    """Console logins, in memory (a restart logs everyone out)."""

    def __init__(self) -> None:
        self._sessions: dict[str, ConsoleSession] = {}

    def create(
        self,
        actor: str,
        scopes: tuple[str, ...],
        token_id: int | None,
        account: tuple[str, str] | None = None,
    ) -> str:
        now = time.time()
        if len(self._sessions) >= _MAX_SESSIONS:
            self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = ConsoleSession(
            actor, scopes, secrets.token_urlsafe(32), now + SESSION_SECONDS, token_id, account
        )
        return sid

    def get(self, sid: str | None) -> ConsoleSession | None:
        if not sid:
            return None
        found = self._sessions.get(sid)
        if found is None or found.expires <= time.time():
            self._sessions.pop(sid, None)
            return None
        return found

    def end(self, sid: str | None) -> None:
        if sid:
            self._sessions.pop(sid, None)


def account_state(ctx: AdminContext, name: str) -> str | None:
    """What a console login with account ``name`` depends on, as a digest (its password hash),
    or None when that account may not use the console now (deleted, disabled, or not in the
    console group)."""
    rows = ctx.manager.accounts.read(
        "SELECT enabled, password_hash FROM users WHERE name = ?", (name,)
    )
    if not rows or not rows[0][0]:
        return None
    if ctx.settings.admin.console_group not in ctx.manager.policy.groups_of(name):
        return None
    return hashlib.sha256(str(rows[0][1]).encode()).hexdigest()


def still_stands(ctx: AdminContext, session: ConsoleSession) -> bool:
    """Whether a console login still stands: its token is not revoked, or its account is as
    it was at login and still in the console group. It asks the account database (blocking:
    with PostgreSQL a network round trip), so the console calls it in a thread."""
    if session.token_id is not None:
        token = {t.id: t for t in ctx.tokens.list()}.get(session.token_id)
        if token is None or token.revoked is not None:
            return False
    if session.account is not None:
        name, state = session.account
        if account_state(ctx, name) != state:
            return False
    return True


def foreign_origin(request: Request) -> str | None:
    """Why a console form is refused before anything else: sent by a page of another site
    (its Origin names another host and port than the request's Host, or the browser says
    cross-site). None for a form of the console's own pages, and for clients that send no
    Origin. The scheme is not compared: a proxy may end TLS in front of the console."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        return f"Origin {origin[:200]} is not this console (Host {host[:200]})"
    if request.headers.get("sec-fetch-site") == "cross-site":
        return "the browser says this form was sent by another site"
    return None


def csrf_ok(session: ConsoleSession, given: str) -> bool:
    return hmac.compare_digest(session.csrf.encode(), given.encode())


class LoginThrottle:
    """Failed logins per client address (an IPv6 address by its /64) and, within it, per
    account name: at most ``limit`` may fail for one name, and ``address_limit`` for all names
    together, within ``window`` seconds; more are refused unchecked until enough failures are
    ``window`` old. An attempt counts as failed from its start (so that parallel guesses are
    counted too); a success takes back its own name's failures from that address and no
    other's, so logging in as oneself does not reset the guesses at another account. Tokens
    are counted with no name (``address_limit`` is then ``limit``)."""

    def __init__(
        self,
        limit: int = LOGIN_FAILURES,
        window: float = LOGIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        address_limit: int | None = None,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.address_limit = limit if address_limit is None else address_limit
        # address key -> account name -> times of its failures (and attempts under way)
        self._failures: dict[str, dict[str, collections.deque[float]]] = {}

    def begin(self, address: str, name: str = "") -> float:
        """0 when an attempt as ``name`` from ``address`` may be checked (it is counted as
        failed until it ``succeeded``); else the seconds until one may."""
        wait = self.wait(address, name)
        if not wait:
            self.failed(address, name)
        return wait

    def wait(self, address: str, name: str = "") -> float:
        """0 when ``name`` has failed fewer than ``limit`` times from ``address`` within the
        window and the address fewer than ``address_limit`` times for all names; else the
        seconds until it may try again (nothing is counted)."""
        now = self.clock()
        names = self._recent(address, now)
        mine = self._wait(names.get(_name(name), ()), self.limit, now)
        return max(mine, self.address_wait(address))

    def address_wait(self, address: str) -> float:
        """The seconds until any name may be tried from ``address`` again, or 0."""
        now = self.clock()
        every = sorted(t for times in self._recent(address, now).values() for t in times)
        return self._wait(every, self.address_limit, now)

    def failed(self, address: str, name: str = "") -> None:
        now = self.clock()
        key = _key(address)
        names = self._failures.get(key)
        if names is None:
            if len(self._failures) >= _MAX_ADDRESSES:
                self._forget_old(now)
            names = self._failures[key] = {}
        names.setdefault(_name(name), collections.deque()).append(now)

    def succeeded(self, address: str, name: str = "") -> None:
        """Take back the failures of ``name`` from ``address`` (the address's for other names
        stay counted)."""
        names = self._failures.get(_key(address))
        if names is not None:
            names.pop(_name(name), None)
            if not names:
                del self._failures[_key(address)]

    def _recent(self, address: str, now: float) -> dict[str, collections.deque[float]]:
        """The failures from ``address`` within the window, older ones dropped."""
        names = self._failures.get(_key(address))
        if not names:
            return {}
        for name, times in list(names.items()):
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del names[name]
        return names

    def _wait(self, times: Sequence[float], limit: int, now: float) -> float:
        if len(times) >= limit:
            return max(1.0, times[len(times) - limit] + self.window - now)
        return 0.0

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.window
        self._failures = {
            key: names
            for key, names in self._failures.items()
            if any(times and times[-1] > cutoff for times in names.values())
        }
        while len(self._failures) >= _MAX_ADDRESSES:  # all recent: the oldest entries go
            self._failures.pop(next(iter(self._failures)))


def _name(name: str) -> str:
    """The count a name is under: names longer than any account's share one."""
    return name[: MAX_NAME_LENGTH + 1]


def _key(address: str) -> str:
    """The count an address is under: an IPv6 address by its /64, an IPv4-mapped one as IPv4."""
    ip = parse_ip(address)
    if ip is None:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
