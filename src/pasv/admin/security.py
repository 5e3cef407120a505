"""Who may call: bearer tokens for the API; a cookie session with a CSRF token for the console."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from pasv.admin.context import AdminContext, Principal

COOKIE = "pasv_console"
SESSION_SECONDS = 8 * 3600
_MAX_SESSIONS = 1000


def context_of(request: Request) -> AdminContext:
    ctx: AdminContext = request.app.state.ctx
    return ctx


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def token_principal(request: Request, scope: str) -> Principal:
    """The caller of an API request, or 401/403 saying why not."""
    header = request.headers.get("authorization", "")
    kind, _, secret = header.partition(" ")
    if kind.lower() != "bearer" or not secret.strip():
        raise HTTPException(401, "no token: send the header Authorization: Bearer <token>")
    token = context_of(request).tokens.verify(secret.strip())
    if token is None:
        raise HTTPException(401, "unknown token")
    if token.revoked is not None:
        raise HTTPException(401, f"token {token.id} ({token.name}) was revoked")
    if scope not in token.scopes:
        raise HTTPException(
            403,
            f"token {token.id} ({token.name}) has scope {','.join(token.scopes)}; "
            f"this needs {scope}",
        )
    return Principal(f"token:{token.id}:{token.name}", token.scopes, _address(request))


def reader(request: Request) -> Principal:
    return token_principal(request, "read")


def writer(request: Request) -> Principal:
    return token_principal(request, "write")


@dataclass
class ConsoleSession:
    actor: str
    scopes: tuple[str, ...]
    csrf: str
    expires: float
    token_id: int | None = None  # logged in with a token: revoking it ends the session
    flash: list[str] = field(default_factory=list)


class ConsoleSessions:
    """Console logins, in memory (a restart logs everyone out)."""

    def __init__(self) -> None:
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, actor: str, scopes: tuple[str, ...], token_id: int | None) -> str:
        now = time.time()
        if len(self._sessions) >= _MAX_SESSIONS:
            self._sessions = {k: v for k, v in self._sessions.items() if v.expires > now}
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = ConsoleSession(
            actor, scopes, secrets.token_urlsafe(32), now + SESSION_SECONDS, token_id
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


def csrf_ok(session: ConsoleSession, given: str) -> bool:
    return hmac.compare_digest(session.csrf.encode(), given.encode())
