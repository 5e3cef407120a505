"""The `pasv` command line: argument parsing only; the work happens in the packages it calls."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pasv.accounts.base import AccountError
from pasv.accounts.sqlite import SqliteAccountStore
from pasv.cli.diagnostics_commands import register as register_diagnostics
from pasv.config import ConfigError, Settings, load_settings
from pasv.policy.models import Perm

app = typer.Typer(
    help="pasv: an FTP server, client and diagnostics toolkit.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(
    help="Manage FTP accounts (stored in <data_dir>/accounts.sqlite3).", no_args_is_help=True
)
app.add_typer(user_app, name="user")
register_diagnostics(app)

out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (accounts, files).")
]


def _settings(config: Path | None, **overrides: Any) -> Settings:
    sections: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if value is not None:
            section, _, name = key.partition("__")
            sections.setdefault(section, {})[name] = value
    try:
        return load_settings(config, sections)
    except ConfigError as exc:
        err.print(f"[red]Configuration error[/red]\n{exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: all).")] = None,
    port: Annotated[int | None, typer.Option(help="Control port (default 2121).")] = None,
    passive_ports: Annotated[
        str | None, typer.Option(help="Passive port range, e.g. 50000-50100.")
    ] = None,
    masquerade: Annotated[
        str | None,
        typer.Option(
            "--masquerade-address", help="Public IPv4 address to announce in 227 replies (NAT)."
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes sharing the port.")] = None,
    anonymous: Annotated[
        bool | None,
        typer.Option("--anonymous/--no-anonymous", help="Allow read-only anonymous login."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug shows every command and reply.")
    ] = None,
) -> None:
    """Run the FTP server (embedded defaults: ./pasv-data, port 2121, passive 50000-50100)."""
    from pasv.server.runner import run

    settings = _settings(
        config,
        server__data_dir=data_dir,
        server__host=host,
        server__port=port,
        passive__ports=passive_ports,
        passive__address=masquerade,
        server__workers=workers,
        anonymous__enabled=anonymous,
        logging__level=log_level,
    )
    _setup_logging(settings.logging.level)
    try:
        run(settings, lambda line: out.print(line, highlight=False, soft_wrap=True))
    except OSError as exc:
        err.print(f"[red]Cannot start:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _store(config: Path | None, data_dir: Path | None) -> SqliteAccountStore:
    settings = _settings(config, server__data_dir=data_dir)
    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteAccountStore(settings.accounts_db)


def _ask_password(given: str | None) -> str:
    if given is not None:
        return given
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _account_call(config: Path | None, data_dir: Path | None, action: Any) -> Any:
    store = _store(config, data_dir)

    async def call() -> Any:
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(call())
    except (AccountError, ValueError) as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


PasswordOpt = Annotated[str | None, typer.Option(help="The password (prompted for when omitted).")]


@user_app.command("add")
def user_add(
    name: str,
    password: PasswordOpt = None,
    home: Annotated[str, typer.Option(help="Root directory; relative to <data_dir>/files.")] = "",
    perms: Annotated[
        str, typer.Option(help='Permissions, e.g. "read" or "read,write" or "ALL".')
    ] = "ALL",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Add an account (password hashed with argon2)."""
    try:
        flags = Perm.parse(perms)
    except ValueError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from None
    secret = _ask_password(password)
    _account_call(config, data_dir, lambda s: s.add(name, secret, home=home, perms=flags))
    out.print(f"Added user {name!r}.", highlight=False, soft_wrap=True)


@user_app.command("del")
def user_del(name: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete an account (its files stay)."""
    if not _account_call(config, data_dir, lambda s: s.delete(name)):
        err.print(f"[red]Error:[/red] no user {name!r}.", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"Deleted user {name!r}.", highlight=False, soft_wrap=True)


@user_app.command("passwd")
def user_passwd(
    name: str, password: PasswordOpt = None, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Set a new password."""
    secret = _ask_password(password)
    _account_call(config, data_dir, lambda s: s.set_password(name, secret))
    out.print(f"Password of {name!r} changed.", highlight=False, soft_wrap=True)


@user_app.command("list")
def user_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """List accounts."""
    users = _account_call(config, data_dir, lambda s: s.list())
    table = Table("user", "home", "permissions")
    for u in users:
        table.add_row(u.name, u.home or "(files root)", u.perms.describe())
    out.print(table)


@user_app.command("show")
def user_show(name: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Show one account."""
    found = _account_call(config, data_dir, lambda s: s.get(name))
    if found is None:
        err.print(f"[red]Error:[/red] no user {name!r}.", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(
        f"user:        {found.name}\nhome:        {found.home or '(files root)'}\n"
        f"permissions: {found.perms.describe()}",
        highlight=False,
    )
