"""How the admin API answers errors: JSON ``{"error": "..."}``, 400 for bad input, 404 for an
unknown name, the status of an ``HTTPException`` otherwise; nothing was changed. A refused
change asked for with a known token is audited as refused."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pasv.accounts.base import AccountError, AccountNotFound
from pasv.admin.context import AdminContext, Principal

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _answer(request: Request, error: str, status: int, **extra: Any) -> JSONResponse:
    """The error answer; for a change asked with a known token, its audit line first (the
    method and path as the action: the request was refused before any action was named)."""
    who = getattr(request.state, "principal", None)
    if isinstance(who, Principal) and request.method in _CHANGES:
        ctx: AdminContext = request.app.state.ctx
        action = f"{request.method} {request.url.path}"
        detail = {"status": status, "error": error}
        ctx.audited(who, action, request.url.path.removeprefix("/api/v1/"), detail, False)
    return JSONResponse({"error": error}, status_code=status, **extra)


def register_errors(app: Any) -> None:
    """Bad input is 400 with a sentence, unknown names 404; nothing was changed."""

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
            problems.append(f"{where}: {err['msg']}")
        return _answer(request, "; ".join(problems), 400)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return _answer(request, str(exc), 400)

    async def missing(request: Request, exc: Exception) -> JSONResponse:
        return _answer(request, str(exc), 404)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(getattr(exc, "headers", None) or {})  # e.g. a 429's Retry-After
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _answer(request, exc.detail, exc.status_code, headers=headers)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(AccountNotFound, missing)
    app.add_exception_handler(AccountError, refused)
    app.add_exception_handler(ValueError, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
