"""The console's forms: each checks the login, its CSRF token and the write scope, then makes
the change through the management actions and audits it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pasv.admin.console import form_change, lang_of
from pasv.admin.context import AdminContext
from pasv.admin.i18n import texts
from pasv.server.registry import NoSuchSession

edit_router = APIRouter(prefix="/console", include_in_schema=False)


@edit_router.post("/sessions/kick")
async def kick(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        try:
            kicked = await ctx.registry.kick(form.get("id", ""))
        except NoSuchSession as exc:
            raise ValueError(str(exc)) from None
        if not kicked:
            raise ValueError(f"no live session {form.get('id', '')!r}")
        return f"{texts(lang_of(request))['kicked']}: {form['id']}"

    return await form_change(request, "/console/", "session.kick", "id", work)


@edit_router.post("/users/add")
async def user_add(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        groups = [g.strip() for g in form.get("groups", "").split(",") if g.strip()]
        await ctx.manager.add_user(
            form.get("name", "").strip(),
            form.get("password", ""),
            home=form.get("home", "").strip(),
            perms=form.get("perms", "").strip() or "ALL",
            groups=groups,
        )
        return f"{texts(lang_of(request))['user_added']}: {form.get('name')}"

    return await form_change(request, "/console/users", "user.add", "name", work)


@edit_router.post("/users/edit")
async def user_edit(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        name = form.get("name", "")
        pairs: list[tuple[str, str]] = [
            (k, form[k].strip()) for k in ("home", "perms", "groups") if k in form
        ]
        if form.get("settings", "").strip():
            for pair in form["settings"].split():
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(f"expected KEY=VALUE, got {pair!r}")
                pairs.append((key, value))
        await ctx.manager.set_user(name, pairs)
        if form.get("password"):
            await ctx.manager.set_password(name, form["password"])
        return f"{texts(lang_of(request))['saved']}: {name}"

    return await form_change(request, "/console/users", "user.change", "name", work)


@edit_router.post("/users/delete")
async def user_delete(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        if not await ctx.manager.delete_user(form.get("name", "")):
            raise ValueError(f"no user named {form.get('name', '')!r}")
        return f"{texts(lang_of(request))['deleted']}: {form['name']}"

    return await form_change(request, "/console/users", "user.delete", "name", work)


@edit_router.post("/groups/add")
async def group_add(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        ctx.manager.add_group(form.get("name", "").strip(), form.get("description", ""))
        return f"{texts(lang_of(request))['group_added']}: {form.get('name')}"

    return await form_change(request, "/console/groups", "group.add", "name", work)


@edit_router.post("/groups/settings")
async def group_settings(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        name = form.get("name", "")
        if name not in ctx.manager.policy.groups():
            raise ValueError(f"no group named {name!r}")
        pairs = []
        for pair in form.get("settings", "").split():
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"expected KEY=VALUE, got {pair!r}")
            pairs.append((key, value))
        ctx.manager.set_options(f"group:{name}", pairs)
        return f"{texts(lang_of(request))['saved']}: {name}"

    return await form_change(request, "/console/groups", "group.change", "name", work)


@edit_router.post("/groups/delete")
async def group_delete(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        if not ctx.manager.delete_group(form.get("name", "")):
            raise ValueError(f"no group named {form.get('name', '')!r}")
        return f"{texts(lang_of(request))['deleted']}: {form['name']}"

    return await form_change(request, "/console/groups", "group.delete", "name", work)


@edit_router.post("/rules/add")
async def rule_add(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        rule = ctx.manager.add_rule(
            form.get("action", ""),
            form.get("path", ""),
            form.get("perms", ""),
            form.get("to", "").strip() or "*",
        )
        return f"{texts(lang_of(request))['rule_added']}: {rule.describe()}"

    return await form_change(request, "/console/rules", "rule.add", "path", work)


@edit_router.post("/rules/delete")
async def rule_delete(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        number = _number(form.get("id", ""))
        if not ctx.manager.delete_rule(number):
            raise ValueError(f"no rule {number}")
        return f"{texts(lang_of(request))['deleted']}: {number}"

    return await form_change(request, "/console/rules", "rule.delete", "id", work)


@edit_router.post("/ip/add")
async def ip_add(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        rule = ctx.manager.add_ip_rule(
            form.get("action", ""),
            form.get("network", ""),
            form.get("user", "").strip() or None,
            form.get("group", "").strip() or None,
        )
        return f"{texts(lang_of(request))['rule_added']}: {rule.describe()}"

    return await form_change(request, "/console/rules", "ip.add", "network", work)


@edit_router.post("/ip/delete")
async def ip_delete(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        number = _number(form.get("id", ""))
        if not ctx.manager.delete_ip_rule(number):
            raise ValueError(f"no IP rule {number}")
        return f"{texts(lang_of(request))['deleted']}: {number}"

    return await form_change(request, "/console/rules", "ip.delete", "id", work)


@edit_router.post("/bans/add")
async def ban_add(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        try:
            minutes = float(form.get("minutes", "60") or 60)
        except ValueError:
            raise ValueError("minutes must be a number") from None
        ban = ctx.manager.ban(
            form.get("address", ""),
            minutes,
            form.get("reason", "").strip() or "Your address is banned by the administrator",
        )
        return f"{texts(lang_of(request))['banned']}: {ban.ip}"

    return await form_change(request, "/console/bans", "ban.add", "address", work)


@edit_router.post("/bans/lift")
async def ban_lift(request: Request) -> Response:
    async def work(ctx: AdminContext, form: dict[str, str]) -> str:
        if not ctx.manager.lift(form.get("address", "")):
            raise ValueError(f"{form.get('address', '')} is not banned")
        return f"{texts(lang_of(request))['unbanned']}: {form['address']}"

    return await form_change(request, "/console/bans", "ban.lift", "address", work)


def _number(text: str) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise ValueError(f"{text!r} is not a rule number")
    return int(text)
