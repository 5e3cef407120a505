"""The console's forms: each checks the login, its CSRF token and the write scope, then makes
the change through the management actions and audits it. The store's calls run in a thread:
this loop is the FTP server's, and the account database may wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pasv.admin.console import FormWork, form_change
from pasv.admin.context import AdminContext
from pasv.server.registry import NoSuchSession

edit_router = APIRouter(prefix="/console", include_in_schema=False)


def change(path: str, back: str, action: str, target_field: str) -> Callable[[FormWork], FormWork]:
    """A console form posted to ``path``, audited as ``action`` on the field ``target_field``;
    the browser goes back to the page ``back`` (see ``form_change``)."""

    def register(work: FormWork) -> FormWork:
        async def route(request: Request) -> Response:
            return await form_change(request, back, action, target_field, work)

        edit_router.add_api_route(path, route, methods=["POST"], name=work.__name__)
        return work

    return register


@change("/sessions/kick", "/console/", "session.kick", "id")
async def kick(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    try:
        kicked = await ctx.registry.kick(form.get("id", ""))
    except NoSuchSession as exc:
        raise ValueError(str(exc)) from None
    if not kicked:
        raise ValueError(f"no live session {form.get('id', '')!r}")
    return f"{t['kicked']}: {form['id']}"


@change("/users/add", "/console/users", "user.add", "name")
async def user_add(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()]
    await ctx.manager.add_user(
        form.get("name", "").strip(),
        form.get("password", ""),
        home=form.get("home", "").strip(),
        perms=form.get("perms", "").strip() or "ALL",
        groups=groups,
    )
    return f"{t['user_added']}: {form.get('name')}"


@change("/users/edit", "/console/users", "user.change", "name")
async def user_edit(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    name = form.get("name", "")
    pairs = [(k, form[k].strip()) for k in ("home", "perms", "groups") if k in form]
    await ctx.manager.set_user(name, pairs + _settings(form))
    if form.get("password"):
        await ctx.manager.set_password(name, form["password"])
    return f"{t['saved']}: {name}"


@change("/users/delete", "/console/users", "user.delete", "name")
async def user_delete(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    if not await ctx.manager.delete_user(form.get("name", "")):
        raise ValueError(f"no user named {form.get('name', '')!r}")
    return f"{t['deleted']}: {form['name']}"


@change("/groups/add", "/console/groups", "group.add", "name")
async def group_add(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    name, description = form.get("name", "").strip(), form.get("description", "")
    await asyncio.to_thread(ctx.manager.add_group, name, description)
    return f"{t['group_added']}: {form.get('name')}"


@change("/groups/settings", "/console/groups", "group.change", "name")
async def group_settings(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    name = form.get("name", "")
    pairs = _settings(form)
    if name not in await asyncio.to_thread(ctx.manager.policy.groups):
        raise ValueError(f"no group named {name!r}")
    await asyncio.to_thread(ctx.manager.set_options, f"group:{name}", pairs)
    return f"{t['saved']}: {name}"


@change("/groups/delete", "/console/groups", "group.delete", "name")
async def group_delete(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    if not await asyncio.to_thread(ctx.manager.delete_group, form.get("name", "")):
        raise ValueError(f"no group named {form.get('name', '')!r}")
    return f"{t['deleted']}: {form['name']}"


@change("/rules/add", "/console/rules", "rule.add", "path")
async def rule_add(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    rule = await asyncio.to_thread(
        ctx.manager.add_rule,
        form.get("action", ""),
        form.get("path", ""),
        form.get("perms", ""),
        form.get("to", "").strip() or "*",
    )
    return f"{t['rule_added']}: {rule.describe()}"


@change("/rules/delete", "/console/rules", "rule.delete", "id")
async def rule_delete(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    number = _number(form.get("id", ""))
    if not await asyncio.to_thread(ctx.manager.delete_rule, number):
        raise ValueError(f"no rule {number}")
    return f"{t['deleted']}: {number}"


@change("/ip/add", "/console/rules", "ip.add", "network")
async def ip_add(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    rule = await asyncio.to_thread(
        ctx.manager.add_ip_rule,
        form.get("action", ""),
        form.get("network", ""),
        form.get("user", "").strip() or None,
        form.get("group", "").strip() or None,
    )
    return f"{t['rule_added']}: {rule.describe()}"


@change("/ip/delete", "/console/rules", "ip.delete", "id")
async def ip_delete(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    number = _number(form.get("id", ""))
    if not await asyncio.to_thread(ctx.manager.delete_ip_rule, number):
        raise ValueError(f"no IP rule {number}")
    return f"{t['deleted']}: {number}"


@change("/bans/add", "/console/bans", "ban.add", "address")
async def ban_add(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    try:
        minutes = float(form.get("minutes", "60") or 60)
    except ValueError:
        raise ValueError("minutes must be a number") from None
    ban = await asyncio.to_thread(
        ctx.manager.ban,
        form.get("address", ""),
        minutes,
        form.get("reason", "").strip() or "Your address is banned by the administrator",
    )
    return f"{t['banned']}: {ban.ip}"


@change("/bans/lift", "/console/bans", "ban.lift", "address")
async def ban_lift(ctx: AdminContext, form: dict[str, str], t: dict[str, str]) -> str:
    if not await asyncio.to_thread(ctx.manager.lift, form.get("address", "")):
        raise ValueError(f"{form.get('address', '')} is not banned")
    return f"{t['unbanned']}: {form['address']}"


def _settings(form: dict[str, str]) -> list[tuple[str, str]]:
    """The form's ``settings`` field, KEY=VALUE pairs separated by white space."""
    pairs = []
    for pair in form.get("settings", "").split():
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        pairs.append((key, value))
    return pairs


def _number(text: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise ValueError(f"{text!r} is not a rule number")
    return int(text)
