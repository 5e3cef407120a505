"""How the admin API answers errors: JSON ``{"error": "..."}``, 400 for bad input, 404 for an
unknown name, the status of an ``HTTPException`` otherwise; nothing was changed."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pasv.accounts.base import AccountError, AccountNotFound


def register_errors(app: Any) -> None:
    """Bad input is 400 with a sentence, unknown names 404; nothing was changed."""

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
            problems.append(f"{where}: {err['msg']}")
        return JSONResponse({"error": "; ".join(problems)}, status_code=400)

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def missing(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(AccountNotFound, missing)
    app.add_exception_handler(AccountError, refused)
    app.add_exception_handler(ValueError, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
