"""The admin HTTP API (/api/v1): every resource, token scopes, audited changes."""

from __future__ import annotations

import asyncio
import time
from importlib.metadata import version
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from pasv.accounts.base import AccountExists
from pasv.admin.audit import read_tail
from pasv.admin.bodies import (
    NewBan,
    NewGroup,
    NewIpRule,
    NewRule,
    NewUser,
    SettingsChange,
    UsageChange,
    UserChange,
)
from pasv.admin.context import AdminContext, Principal
from pasv.admin.history import Search, search
from pasv.admin.security import context_of, reader, writer
from pasv.admin.views import (
    ban_view,
    config_view,
    group_views,
    ip_rule_view,
    rule_view,
    usage_view,
    user_view,
)
from pasv.policy.engine import PolicyData
from pasv.policy.options import show_option
from pasv.server.registry import NoSuchSession

_VERSION = version("pasv")  # read at import: the serving user may not reach the package's metadata

# Routes that only touch the store are plain functions: FastAPI runs them (and the token check,
# a plain function too) in its thread pool, so a busy database never stalls FTP sessions.
router = APIRouter(prefix="/api/v1")
Ctx = Annotated[AdminContext, Depends(context_of)]
Reader = Annotated[Principal, Depends(reader)]
Writer = Annotated[Principal, Depends(writer)]
Id = Annotated[int, Field(ge=1, le=2**62)]


def _done(
    ctx: AdminContext, who: Principal, action: str, target: str, detail: dict[str, Any]
) -> None:
    ctx.audited(who, action, target, detail, True)


def _missing(what: str) -> HTTPException:
    return HTTPException(404, what)


def _removed(
    ctx: AdminContext,
    who: Principal,
    action: str,
    target: str | int,
    found: bool,
    missing: str,
    said: str = "deleted",
) -> dict[str, Any]:
    """What a DELETE answers: 404 with ``missing`` unless ``found``; else the audited change
    and ``{said: target}``."""
    if not found:
        raise _missing(missing)
    _done(ctx, who, action, str(target), {})
    return {said: target}


# --- status and configuration ---------------------------------------------------------------
@router.get("/status", tags=["server"])
async def status(ctx: Ctx, who: Reader) -> dict[str, Any]:
    sessions = await ctx.registry.sessions()
    return {
        "version": _VERSION,
        "started": ctx.started,
        "uptime": round(time.time() - ctx.started, 1),
        "workers": ctx.workers,
        "listening": [f"{h}:{p}" for h, p in ctx.ftp_addresses],
        "sessions": len(sessions),
        "logged_in": sum(1 for s in sessions if s.user),
        "transfers": sum(1 for s in sessions if s.transfer),
        "bans": len(await asyncio.to_thread(ctx.manager.bans.bans)),
    }


@router.get("/config", tags=["server"])
def configuration(ctx: Ctx, who: Reader) -> dict[str, Any]:
    return config_view(ctx.settings)


# --- users ----------------------------------------------------------------------------------
@router.get("/users", tags=["users"])
async def list_users(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    data = await _policy(ctx)
    return [user_view(u, data) for u in await ctx.manager.users()]


@router.post("/users", status_code=201, tags=["users"])
async def add_user(body: NewUser, ctx: Ctx, who: Writer) -> dict[str, Any]:
    try:
        user = await ctx.manager.add_user(
            body.name, body.password, home=body.home, perms=body.perms, groups=body.groups
        )
    except AccountExists as exc:
        raise HTTPException(409, str(exc)) from None
    _done(ctx, who, "user.add", body.name, body.model_dump())
    return user_view(user, await _policy(ctx))


@router.get("/users/{name}", tags=["users"])
async def get_user(name: str, ctx: Ctx, who: Reader) -> dict[str, Any]:
    user = await ctx.manager.user(name)
    return user_view(user, await _policy(ctx))


@router.patch("/users/{name}", tags=["users"])
async def change_user(name: str, body: UserChange, ctx: Ctx, who: Writer) -> dict[str, Any]:
    pairs: list[tuple[str, str]] = []
    if body.home is not None:
        pairs.append(("home", body.home))
    if body.perms is not None:
        pairs.append(("perms", body.perms))
    if body.enabled is not None:
        pairs.append(("enabled", str(body.enabled).lower()))
    if body.groups is not None:
        pairs.append(("groups", ",".join(body.groups)))
    pairs += [
        (k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in body.settings.items()
    ]
    manager = ctx.manager
    await manager.user(name)
    manager.check_unset(body.unset)
    await manager.set_user(name, pairs)
    if body.password is not None:
        await manager.set_password(name, body.password)
    await asyncio.to_thread(manager.unset_options, f"user:{name}", body.unset)
    _done(ctx, who, "user.change", name, body.model_dump(exclude_none=True))
    return user_view(await manager.user(name), await _policy(ctx))


@router.delete("/users/{name}", tags=["users"])
async def delete_user(name: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    found = await ctx.manager.delete_user(name)
    return _removed(ctx, who, "user.delete", name, found, f"no user named {name!r}")


@router.get("/users/{name}/usage", tags=["credits and quotas"])
async def get_usage(name: str, ctx: Ctx, who: Reader) -> dict[str, Any]:
    usage = await ctx.manager.usage(name)
    user = await ctx.manager.user(name)
    return usage_view(name, usage, await _policy(ctx), ctx.settings, user)


@router.patch("/users/{name}/usage", tags=["credits and quotas"])
async def change_usage(name: str, body: UsageChange, ctx: Ctx, who: Writer) -> dict[str, Any]:
    usage = await ctx.manager.usage(name, credit=body.credit, rescan=body.rescan)
    _done(ctx, who, "usage.change", name, body.model_dump(exclude_none=True))
    user = await ctx.manager.user(name)
    return usage_view(name, usage, await _policy(ctx), ctx.settings, user)


# --- groups and global settings -------------------------------------------------------------
@router.get("/groups", tags=["groups"])
def list_groups(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    return group_views(ctx.manager.policy.load())


@router.post("/groups", status_code=201, tags=["groups"])
def add_group(body: NewGroup, ctx: Ctx, who: Writer) -> dict[str, Any]:
    try:
        ctx.manager.add_group(body.name, body.description)
    except ValueError as exc:
        code = 409 if "already exists" in str(exc) else 400
        raise HTTPException(code, str(exc)) from None
    _done(ctx, who, "group.add", body.name, body.model_dump())
    return _group(ctx, body.name)


@router.patch("/groups/{name}", tags=["groups"])
def change_group(name: str, body: SettingsChange, ctx: Ctx, who: Writer) -> dict[str, Any]:
    if name not in ctx.manager.policy.groups():
        raise _missing(f"no group named {name!r}")
    _change_settings(ctx, f"group:{name}", body)
    _done(ctx, who, "group.change", name, body.model_dump())
    return _group(ctx, name)


@router.delete("/groups/{name}", tags=["groups"])
def delete_group(name: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    found = ctx.manager.delete_group(name)
    return _removed(ctx, who, "group.delete", name, found, f"no group named {name!r}")


@router.get("/policy", tags=["policy"])
def get_policy(ctx: Ctx, who: Reader) -> dict[str, Any]:
    return {k: show_option(v) for k, v in ctx.manager.policy.options("").items()}


@router.patch("/policy", tags=["policy"])
def change_policy(body: SettingsChange, ctx: Ctx, who: Writer) -> dict[str, Any]:
    _change_settings(ctx, "", body)
    _done(ctx, who, "policy.change", "global", body.model_dump())
    return get_policy(ctx, who)


@router.get("/why", tags=["policy"])
async def why(
    ctx: Ctx,
    who: Reader,
    user: Annotated[str, Query(min_length=1, max_length=64)],
    perm: Annotated[str, Query(min_length=1, max_length=200)],
    path: Annotated[str, Query(min_length=1, max_length=4096)],
) -> dict[str, Any]:
    """`pasv policy why`: whether USER may do PERM at PATH, and the rule that decides."""
    answer = await ctx.manager.why(user, perm, path)
    return {
        "user": answer.user,
        "perms": answer.perms,
        "path": answer.path,
        "allowed": answer.allowed,
        "explanation": answer.text,
        "rule": rule_view(answer.rule) if answer.rule is not None else None,
    }


# --- rules ----------------------------------------------------------------------------------
@router.get("/rules", tags=["rules"])
def list_rules(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    return [rule_view(r) for r in ctx.manager.policy.rules()]


@router.post("/rules", status_code=201, tags=["rules"])
def add_rule(body: NewRule, ctx: Ctx, who: Writer) -> dict[str, Any]:
    rule = ctx.manager.add_rule(body.action, body.path, body.perms, body.to)
    _done(ctx, who, "rule.add", str(rule.id), body.model_dump())
    return rule_view(rule)


@router.delete("/rules/{number}", tags=["rules"])
def delete_rule(number: Id, ctx: Ctx, who: Writer) -> dict[str, Any]:
    found = ctx.manager.delete_rule(number)
    return _removed(ctx, who, "rule.delete", number, found, f"no rule {number}")


@router.get("/ip-rules", tags=["IP lists"])
def list_ip_rules(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    return [ip_rule_view(r) for r in ctx.manager.policy.ip_rules()]


@router.post("/ip-rules", status_code=201, tags=["IP lists"])
def add_ip_rule(body: NewIpRule, ctx: Ctx, who: Writer) -> dict[str, Any]:
    rule = ctx.manager.add_ip_rule(body.action, body.network, body.user, body.group)
    _done(ctx, who, "ip.add", str(rule.id), body.model_dump())
    return ip_rule_view(rule)


@router.delete("/ip-rules/{number}", tags=["IP lists"])
def delete_ip_rule(number: Id, ctx: Ctx, who: Writer) -> dict[str, Any]:
    found = ctx.manager.delete_ip_rule(number)
    return _removed(ctx, who, "ip.delete", number, found, f"no IP rule {number}")


# --- bans -----------------------------------------------------------------------------------
@router.get("/bans", tags=["bans"])
def list_bans(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    bans = sorted(ctx.manager.bans.bans().values(), key=lambda b: b.until)
    return [ban_view(b) for b in bans]


@router.post("/bans", status_code=201, tags=["bans"])
def add_ban(body: NewBan, ctx: Ctx, who: Writer) -> dict[str, Any]:
    ban = ctx.manager.ban(body.address, body.minutes, body.reason)
    _done(ctx, who, "ban.add", ban.ip, body.model_dump())
    return ban_view(ban)


@router.delete("/bans/{address}", tags=["bans"])
def lift_ban(address: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    found = ctx.manager.lift(address)
    return _removed(ctx, who, "ban.lift", address, found, f"{address} is not banned", "lifted")


# --- live sessions, history, logs -----------------------------------------------------------
@router.get("/sessions", tags=["sessions"])
async def list_sessions(ctx: Ctx, who: Reader) -> list[dict[str, Any]]:
    return [s.to_dict() for s in await ctx.registry.sessions()]


@router.delete("/sessions/{session_id}", tags=["sessions"])
async def kick(session_id: str, ctx: Ctx, who: Writer) -> dict[str, Any]:
    """End a session: its client gets 421 and the connection closes."""
    try:
        kicked = await ctx.registry.kick(session_id)
    except NoSuchSession as exc:
        raise _missing(str(exc)) from None
    missing = f"no live session {session_id!r}"
    return _removed(ctx, who, "session.kick", session_id, kicked, missing, "kicked")


@router.get("/transfers", tags=["history"])
def transfers(
    ctx: Ctx,
    who: Reader,
    user: Annotated[str | None, Query(max_length=64)] = None,
    path: Annotated[str | None, Query(max_length=4096)] = None,
    since: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    until: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    result: Literal["complete", "incomplete"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Finished and aborted transfers from the transfer log, newest first."""
    query = Search(user or None, path or None, since, until, result, limit)
    return [r.to_dict() for r in search(ctx.transfer_log, query)]


@router.get("/session-log", tags=["history"])
def session_log(
    ctx: Ctx, who: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Logins, refused logins and connections, kicks; newest first."""
    return list(reversed(read_tail(ctx.settings.session_log_path, limit)))


@router.get("/audit", tags=["history"])
def audit(
    ctx: Ctx, who: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Changes made through the API and console; newest first."""
    return list(reversed(ctx.audit.tail(limit)))


@router.get("/throughput", tags=["sessions"])
async def throughput(ctx: Ctx, who: Reader) -> list[dict[str, float]]:
    """Upload and download bytes per second of the last ten minutes (a sample every 2 s)."""
    return [
        {"time": t, "upload": round(up, 1), "download": round(down, 1)}
        for t, up, down in ctx.throughput.samples
    ]


# --- helpers --------------------------------------------------------------------------------
def _change_settings(ctx: AdminContext, scope: str, body: SettingsChange) -> None:
    manager = ctx.manager
    manager.check_unset(body.unset)
    manager.set_options(scope, list(body.settings.items()))
    manager.unset_options(scope, body.unset)


def _group(ctx: AdminContext, name: str) -> dict[str, Any]:
    for view in group_views(ctx.manager.policy.load()):
        if view["name"] == name:
            return view
    raise _missing(f"no group named {name!r}")


async def _policy(ctx: AdminContext) -> PolicyData:
    """The stored policy, read in a thread (this loop is the FTP server's)."""
    return await asyncio.to_thread(ctx.manager.policy.load)
