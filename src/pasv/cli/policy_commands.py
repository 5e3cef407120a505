"""`pasv policy|group` and `pasv user set|unset`: settings in layers, texts, why, export/import."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from pasv.accounts.base import AccountError
from pasv.accounts.policy_file import dump, export_policy, import_policy
from pasv.accounts.policy_store import PolicyStore
from pasv.admin.actions import InvalidInput, Manager
from pasv.cli.common import ConfigOpt, DataDirOpt, err, open_store, out, settings_from
from pasv.policy.options import DEFAULTS, KEYS, show_option
from pasv.server.app import base_policy

T = TypeVar("T")

policy_app = typer.Typer(
    help="Server-wide policy settings, reply texts, `why`, export and import.",
    no_args_is_help=True,
)
group_app = typer.Typer(help="Groups of users sharing settings.", no_args_is_help=True)

PairsArg = Annotated[list[str], typer.Argument(help="KEY=VALUE pairs, e.g. quota_bytes=10G.")]
KeysArg = Annotated[list[str], typer.Argument(help="Setting names to remove.")]


def with_policy(config: Path | None, data_dir: Path | None, work: Callable[[PolicyStore], T]) -> T:
    """Run ``work`` on the policy store; errors become a message and exit status 1."""
    store = open_store(config, data_dir)
    try:
        return work(PolicyStore(store))
    except (AccountError, ValueError) as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        asyncio.run(store.close())


def with_manager(
    config: Path | None,
    data_dir: Path | None,
    work: Callable[[Manager], T],
    *,
    create: bool = False,
) -> T:
    """Run ``work`` through the management actions the admin API uses too (one code path);
    bad input exits with status 2, a refusal by the store with 1."""

    async def call(manager: Manager) -> T:
        return work(manager)

    return with_manager_async(config, data_dir, call, create=create)


def with_manager_async(
    config: Path | None,
    data_dir: Path | None,
    work: Callable[[Manager], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    """``with_manager`` for the actions that are coroutines (those on accounts)."""
    settings = settings_from(config, server__data_dir=data_dir)
    store = open_store(config, data_dir, create=create)

    async def call() -> T:
        try:
            return await work(Manager(store, settings))
        finally:
            await store.close()

    try:
        return asyncio.run(call())
    except InvalidInput as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except (AccountError, ValueError) as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def split_pairs(pairs: list[str]) -> list[tuple[str, str]]:
    result = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            err.print(f"[red]Error:[/red] expected KEY=VALUE, got {pair!r}", highlight=False)
            raise typer.Exit(2)
        result.append((key.strip(), value.strip()))
    return result


def set_options(
    config: Path | None, data_dir: Path | None, scope: str, pairs: list[tuple[str, str]]
) -> None:
    for line in with_manager(config, data_dir, lambda m: m.set_options(scope, list(pairs))):
        out.print(line, highlight=False)


def unset_options(config: Path | None, data_dir: Path | None, scope: str, keys: list[str]) -> None:
    for key, removed in with_manager(config, data_dir, lambda m: m.unset_options(scope, keys)):
        shown = "removed" if removed else "was not set"
        out.print(f"{scope or 'global'}: {key} {shown}", highlight=False)


# --- global --------------------------------------------------------------------------------
@policy_app.command("set")
def policy_set(pairs: PairsArg, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Set server-wide settings (groups and users may override most of them)."""
    set_options(config, data_dir, "", split_pairs(pairs))


@policy_app.command("unset")
def policy_unset(keys: KeysArg, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Remove server-wide settings (back to the configuration file's or built-in value)."""
    unset_options(config, data_dir, "", keys)


@policy_app.command("message")
def policy_message(
    key: str, text: str, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Replace one reply text, e.g. `pasv policy message per_ip "One at a time, please."`."""
    with_policy(config, data_dir, lambda store: store.set_message(key, text))
    out.print(f"message {key} = {text!r}", highlight=False)


@policy_app.command("show")
def policy_show(
    user: Annotated[str | None, typer.Option(help="Settings as they apply to this user.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Every setting, its value, and where the value comes from."""
    settings = settings_from(config, server__data_dir=data_dir)
    base = base_policy(settings)

    def work(store: PolicyStore) -> list[tuple[str, Any, str]]:
        data = store.load()
        layers: list[tuple[str, dict[str, Any]]] = [("global", dict(data.settings))]
        if user is not None:
            if not store.accounts.read("SELECT 1 FROM users WHERE name = ?", (user,)):
                raise AccountError(f"no user named {user!r}")
            member = data.members.get(user)
            for name in reversed(member.groups if member else ()):
                group = data.groups.get(name)
                if group is not None:
                    layers.append((f"group {name}", dict(group.options)))
            if member is not None:
                layers.append((f"user {user}", dict(member.options)))
        rows = []
        for key in KEYS:
            value, source = getattr(base, key), "config file"
            if value == getattr(DEFAULTS, key):
                source = "built-in"
            for name, layer in layers:
                if key in layer:
                    value, source = layer[key], name
            rows.append((key, value, source))
        return rows

    table = Table("setting", "value", "from")
    for key, value, source in with_policy(config, data_dir, work):
        shown = show_option(value)
        table.add_row(key, ", ".join(shown) if isinstance(shown, list) else str(shown), source)
    out.print(table)


@policy_app.command("why")
def policy_why(
    user: str,
    perm: Annotated[str, typer.Argument(help="A permission: LIST RETR STOR ... read write.")],
    path: Annotated[str, typer.Argument(help="A virtual path as the user sees it.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Whether USER may do PERM at PATH, and the rule that decides. Exit status 1 = denied."""
    answer = with_manager_async(config, data_dir, lambda m: m.why(user, perm, path))
    out.print(
        f"{user} {answer.perms} {answer.path}: {answer.text}", highlight=False, soft_wrap=True
    )
    if not answer.allowed:
        raise typer.Exit(1)


@policy_app.command("export")
def policy_export(
    file: Annotated[Path | None, typer.Argument(help="Write here (default: print).")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """The whole policy as one TOML file (no passwords, bans or usage)."""
    text = dump(with_policy(config, data_dir, export_policy))
    if file is None:
        out.print(text, highlight=False, markup=False, end="")
    else:
        file.write_text(text, encoding="utf-8")
        out.print(f"Policy written to {file}.", highlight=False)


@policy_app.command("import")
def policy_import(file: Path, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Replace the stored policy by FILE, all or nothing (its users must exist already)."""
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        err.print(f"[red]Error:[/red] {file}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None

    def work(store: PolicyStore) -> list[str]:
        try:
            return import_policy(store, doc)
        except (AccountError, ValueError) as exc:
            raise ValueError(f"{file}: {exc}; nothing was changed") from None

    for line in with_policy(config, data_dir, work):
        out.print(f"Imported {line}.", highlight=False)


# --- groups --------------------------------------------------------------------------------
@group_app.command("add")
def group_add(
    name: str,
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a group."""
    with_manager(config, data_dir, lambda m: m.add_group(name, description))
    out.print(f"Added group {name!r}.", highlight=False)


@group_app.command("del")
def group_del(name: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete a group (its members stay, without it)."""
    if not with_manager(config, data_dir, lambda m: m.delete_group(name)):
        err.print(f"[red]Error:[/red] no group {name!r}.", highlight=False)
        raise typer.Exit(1)
    out.print(f"Deleted group {name!r}.", highlight=False)


@group_app.command("list")
def group_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Groups, their members and their settings."""
    data = with_policy(config, data_dir, lambda store: store.load())
    table = Table("group", "members", "settings", "description")
    for name, group in sorted(data.groups.items()):
        members = sorted(m.name for m in data.members.values() if name in m.groups)
        shown = ", ".join(f"{k}={show_option(v)}" for k, v in sorted(group.options.items()))
        table.add_row(name, ", ".join(members), shown, group.description)
    out.print(table)


@group_app.command("set")
def group_set(
    name: str, pairs: PairsArg, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Set settings for every member of a group (a user's own settings still win)."""
    set_options(config, data_dir, f"group:{name}", split_pairs(pairs))


@group_app.command("unset")
def group_unset(
    name: str, keys: KeysArg, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Remove settings of a group."""
    unset_options(config, data_dir, f"group:{name}", keys)
