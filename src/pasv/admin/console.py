"""The web console (/console): server-rendered pages, cookie session, a CSRF token per form."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape

from pasv.accounts.base import AccountError
from pasv.admin.audit import read_tail
from pasv.admin.chart import throughput_svg
from pasv.admin.context import AdminContext, Principal
from pasv.admin.history import Search, search
from pasv.admin.i18n import LANGUAGES, pick_language, texts
from pasv.admin.security import (
    COOKIE,
    ConsoleSession,
    ConsoleSessions,
    LoginThrottle,
    account_state,
    context_of,
    csrf_ok,
    foreign_origin,
    still_stands,
    token_failed,
    tried_tokens,
)
from pasv.admin.views import group_views, ip_rule_view, rule_view, user_view
from pasv.policy.limits import minutes_left

console_router = APIRouter(prefix="/console", include_in_schema=False)
# Read and compiled at import, before the workers fork and switch to the serving user: that
# user may not reach the code's own files, nor the codecs Jinja2 compiles with (docs/security.md).
_TEMPLATES = {p.name: p.read_text("utf-8") for p in (Path(__file__).parent / "templates").iterdir()}
_templates = Environment(
    loader=DictLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    cache_size=-1,  # every compiled template stays: none is compiled again after the switch
)
_LANG_COOKIE = "pasv_lang"


def _sessions(request: Request) -> ConsoleSessions:
    found: ConsoleSessions = request.app.state.console
    return found


async def _login(request: Request) -> ConsoleSession | None:
    """The console session of this request's cookie, if it still stands (``still_stands``,
    asked in a thread: this loop is the FTP server's, and the account database may wait)."""
    sid = request.cookies.get(COOKIE)
    found = _sessions(request).get(sid)
    if found is None:
        return None
    if not await asyncio.to_thread(still_stands, context_of(request), found):
        _sessions(request).end(sid)
        return None
    return found


def lang_of(request: Request) -> str:
    return pick_language(request.cookies.get(_LANG_COOKIE), request.headers.get("accept-language"))


def _page(request: Request, name: str, login: ConsoleSession | None, **values: Any) -> HTMLResponse:
    lang = lang_of(request)
    flash, messages = (login.flash if login else []), []
    messages, flash[:] = list(flash), []
    html = _templates.get_template(name).render(
        t=texts(lang),
        lang=lang,
        languages=LANGUAGES,
        login=login,
        csrf=login.csrf if login else "",
        messages=messages,
        page=name.removesuffix(".html"),
        **values,
    )
    response = HTMLResponse(html)
    # its own policy; no-store, DENY framing and the rest come from SafeHeaders (headers.py)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'"
    )
    return response


def _refused_origin(request: Request) -> Response | None:
    """403 for a form sent from another site (CSRF, login CSRF): nothing is changed."""
    why = foreign_origin(request)
    if why is None:
        return None
    text = f"Refused: {why}. A console form must be sent from the console's own pages."
    return HTMLResponse(escape(text), status_code=403)


def _to_login() -> RedirectResponse:
    return RedirectResponse("/console/login", status_code=303)


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


FormWork = Callable[[AdminContext, dict[str, str], dict[str, str]], Awaitable[str]]


async def form_change(
    request: Request, back: str, action: str, target_field: str, work: FormWork
) -> Response:
    """A console form: logged in, CSRF token right, write scope; then ``work(ctx, form, t)``
    (``t`` the console's words in the page's language) makes the change and says what it did."""
    refused = _refused_origin(request)
    if refused is not None:
        return refused
    login = await _login(request)
    if login is None:
        return _to_login()
    form = await _form(request)
    if not csrf_ok(login, form.get("csrf", "")):
        return HTMLResponse("CSRF token missing or wrong; reload the page.", status_code=403)
    ctx = context_of(request)
    who = Principal(login.actor, login.scopes, request.client.host if request.client else "-")
    t = texts(lang_of(request))
    if "write" not in login.scopes:
        login.flash.append(t["need_write"])
        return _back(back)
    detail = {k: v for k, v in form.items() if k != "csrf"}
    target = form.get(target_field, "")
    try:
        message = await work(ctx, form, t)
    except (AccountError, ValueError) as exc:
        ctx.audited(who, action, target, detail, False)
        login.flash.append(f"{t['error']}: {exc}")
        return _back(back)
    ctx.audited(who, action, target, detail, True)
    login.flash.append(message)
    return _back(back)


# --- login ----------------------------------------------------------------------------------
@console_router.get("/login")
async def login_page(request: Request) -> Response:
    return _page(request, "login.html", None, error="")


@console_router.post("/login")
async def login(request: Request) -> Response:
    """With a token, or the name and password of a member of the console group; password
    logins are throttled per address, and every login is audited (never with its secret)."""
    refused_origin = _refused_origin(request)
    if refused_origin is not None:
        return refused_origin
    form = await _form(request)
    ctx = context_of(request)
    t = texts(lang_of(request))
    address = request.client.host if request.client else "-"
    throttle: LoginThrottle = request.app.state.logins
    actor: str | None = None
    scopes: tuple[str, ...] = ()
    token_id = None
    account: tuple[str, str] | None = None
    secret = form.get("token", "").strip()
    name = form.get("user", "")
    if secret:
        wait = tried_tokens(request).wait(address)
        if wait:
            return _throttled(request, t["token_throttled"], wait)
        token = await asyncio.to_thread(ctx.tokens.verify, secret)
        if token is not None and token.revoked is None:
            actor, scopes, token_id = f"token:{token.id}:{token.name}", token.scopes, token.id
        else:
            who = Principal("unknown token", (), address)
            token_failed(request, who, "console.login", "unknown token", "unknown or revoked")
    elif name:
        wait = throttle.begin(address, name)
        if wait:
            ctx.audited(Principal(f"user:{name}", (), address), "console.login", name, {}, False)
            text = t["login_throttled" if throttle.address_wait(address) else "name_throttled"]
            return _throttled(request, text, wait, name=name)
        user = await ctx.manager.accounts.authenticate(name, form.get("password", ""))
        state = await asyncio.to_thread(account_state, ctx, name) if user is not None else None
        if state is not None:
            actor, scopes, account = f"user:{name}", ("read", "write"), (name, state)
            throttle.succeeded(address, name)  # this name's failures only
    if secret and actor is not None:  # a failed token was audited by token_failed
        ctx.audited(Principal(actor, (), address), "console.login", actor, {}, True)
    elif name and not secret:
        who = Principal(f"user:{name}", (), address)
        ctx.audited(who, "console.login", name, {}, actor is not None)
    if actor is None:
        return _page(request, "login.html", None, error=t["login_failed"])
    sid = _sessions(request).create(actor, scopes, token_id, account)
    response = _back("/console/")
    response.set_cookie(
        COOKIE,
        sid,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/console",
    )
    return response


def _throttled(request: Request, text: str, wait: float, **values: str) -> Response:
    """The login page saying 429: ``text`` with the minutes to wait (and ``values``)."""
    error = text.format(minutes=minutes_left(wait, 0), **values)
    refused = _page(request, "login.html", None, error=error)
    refused.status_code = 429
    refused.headers["Retry-After"] = str(round(wait))
    return refused


@console_router.post("/logout")
async def logout(request: Request) -> Response:
    refused = _refused_origin(request)
    if refused is not None:
        return refused
    login = await _login(request)
    form = await _form(request)
    if login is not None and csrf_ok(login, form.get("csrf", "")):
        _sessions(request).end(request.cookies.get(COOKIE))
    response = _to_login()
    response.delete_cookie(COOKIE, path="/console")
    return response


@console_router.get("/lang/{code}")
async def language(code: str, request: Request) -> Response:
    back = request.headers.get("referer", "")
    target = back if back.startswith(str(request.base_url)) else "/console/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie(_LANG_COOKIE, code, samesite="strict", path="/console")
    return response


# --- pages ---------------------------------------------------------------------------------
PageValues = dict[str, Any]
PageView = Callable[[Request, AdminContext], Awaitable[PageValues]]


def page(path: str, template: str) -> Callable[[PageView], PageView]:
    """A console page at GET ``path``: the login page unless logged in, else ``template``
    rendered with the values the view returns."""

    def register(view: PageView) -> PageView:
        async def route(request: Request) -> Response:
            login = await _login(request)
            if login is None:
                return _to_login()
            return _page(request, template, login, **await view(request, context_of(request)))

        console_router.add_api_route(path, route, methods=["GET"], name=view.__name__)
        return view

    return register


@page("/", "dashboard.html")
async def dashboard(request: Request, ctx: AdminContext) -> PageValues:
    return {
        "sessions": await ctx.registry.sessions(),
        "events": list(
            reversed(await asyncio.to_thread(read_tail, ctx.settings.session_log_path, 15))
        ),
        "chart": throughput_svg(list(ctx.throughput.samples)),
        "now": time.time(),
        "bans": len(await asyncio.to_thread(ctx.manager.bans.bans)),
        "cluster": ctx.cluster,
    }


@page("/users", "users.html")
async def users(request: Request, ctx: AdminContext) -> PageValues:
    data = await asyncio.to_thread(ctx.manager.policy.load)
    shown = [user_view(u, data) for u in await ctx.manager.users()]
    return {"users": shown, "groups": sorted(data.groups)}


@page("/groups", "groups.html")
async def groups(request: Request, ctx: AdminContext) -> PageValues:
    return {"groups": group_views(await asyncio.to_thread(ctx.manager.policy.load))}


@page("/rules", "rules.html")
async def rules(request: Request, ctx: AdminContext) -> PageValues:
    return {
        "rules": [rule_view(r) for r in await asyncio.to_thread(ctx.manager.policy.rules)],
        "ip_rules": [ip_rule_view(r) for r in await asyncio.to_thread(ctx.manager.policy.ip_rules)],
    }


@page("/bans", "bans.html")
async def bans(request: Request, ctx: AdminContext) -> PageValues:
    found = sorted((await asyncio.to_thread(ctx.manager.bans.bans)).values(), key=lambda b: b.until)
    return {"bans": found, "now": time.time()}


@page("/why", "why.html")
async def why(request: Request, ctx: AdminContext) -> PageValues:
    q = request.query_params
    answer, error = None, ""
    if q.get("user") and q.get("perm") and q.get("path"):
        try:
            answer = await ctx.manager.why(q["user"], q["perm"], q["path"])
        except (AccountError, ValueError) as exc:
            error = str(exc)
    users = [u.name for u in await ctx.manager.users()]
    return {"answer": answer, "error": error, "q": q, "users": users}


@page("/transfers", "transfers.html")
async def transfers(request: Request, ctx: AdminContext) -> PageValues:
    q = request.query_params
    result = q.get("result") if q.get("result") in ("complete", "incomplete") else None
    query = Search(q.get("user") or None, q.get("path") or None, None, None, result, 200)
    # the log files are read in a thread: a scan of 16 MiB of xferlog took 0.3 s, and this
    # loop is the FTP server's (worker 0)
    return {"transfers": await asyncio.to_thread(search, ctx.transfer_log, query), "q": q}


@page("/log", "log.html")
async def session_log(request: Request, ctx: AdminContext) -> PageValues:
    events = list(reversed(await asyncio.to_thread(read_tail, ctx.settings.session_log_path, 200)))
    audit = list(reversed(await asyncio.to_thread(ctx.audit.tail, 100)))
    return {"events": events, "audit": audit}


def quoted(value: str) -> str:
    return quote(value, safe="")


_templates.filters["quoted"] = quoted
_templates.filters["clock"] = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
for _name in _TEMPLATES:  # compiled now (with the filters above), not at the first request
    _templates.get_template(_name)
