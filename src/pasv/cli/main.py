"""The `pasv` command line: argument parsing only; the work happens in the packages it calls."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from pasv.accounts.base import AccountError
from pasv.admin.actions import Manager
from pasv.cli import client as client_commands
from pasv.cli.access_commands import ban_app, ip_app, rule_app
from pasv.cli.admin_commands import admin_app
from pasv.cli.cluster_commands import cluster_app
from pasv.cli.common import (
    ConfigOpt,
    DataDirOpt,
    err,
    open_store,
    out,
    settings_from,
    setup_logging,
)
from pasv.cli.diagnostics_commands import register as register_diagnostics
from pasv.cli.doctor_command import register as register_doctor
from pasv.cli.health_command import register as register_health
from pasv.cli.policy_commands import (
    group_app,
    policy_app,
    split_pairs,
    unset_options,
    with_manager_async,
)
from pasv.policy.models import Perm

app = typer.Typer(
    help="pasv: an FTP server, client and diagnostics toolkit.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(
    help="Manage FTP accounts (stored in <data_dir>/accounts.sqlite3, or accounts.url).",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")
client_commands.register(app)
register_diagnostics(app)
register_doctor(app)
register_health(app)


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
    workers: Annotated[
        str | None,
        typer.Option(help='Worker processes sharing the port, or "auto": one per CPU core.'),
    ] = None,
    anonymous: Annotated[
        bool | None,
        typer.Option("--anonymous/--no-anonymous", help="Allow read-only anonymous login."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug shows every command and reply.")
    ] = None,
    implicit_port: Annotated[
        int | None, typer.Option(help="Implicit FTPS (ftps://) port (default 9990).")
    ] = None,
    certificate: Annotated[
        Path | None, typer.Option(help="TLS certificate chain, PEM (default: self-signed).")
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="TLS private key, PEM (default: in the certificate file).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Started as root: serve as this user (default pasv/nobody).")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Started as root: serve as this group (default: the user's).")
    ] = None,
    allow_root: Annotated[
        bool | None,
        typer.Option("--allow-root", help="Started as root: keep serving as root (not advised)."),
    ] = None,
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            help='Prometheus /metrics listener "host:port" (default 127.0.0.1:9121), or off.'
        ),
    ] = None,
    admin: Annotated[
        bool | None,
        typer.Option("--admin/--no-admin", help="Serve the admin API and web console."),
    ] = None,
    admin_port: Annotated[
        int | None, typer.Option(help="Admin API and console port on 127.0.0.1 (default 8021).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="postgresql://user:password@host/db: accounts, policy and cluster state shared "
            "by several nodes (default: <data_dir>/accounts.sqlite3).",
        ),
    ] = None,
    node: Annotated[
        str | None, typer.Option(help="This node's name in the cluster (default: host:port).")
    ] = None,
) -> None:
    """Run the FTP server (embedded defaults: ./pasv-data, port 2121, passive 50000-50100)."""
    from pasv.admin.service import start_admin
    from pasv.server.runner import run
    from pasv.server.workerstart import START_ERRORS, WorkerStartError

    settings = settings_from(
        config,
        server__data_dir=data_dir,
        server__host=host,
        server__port=port,
        passive__ports=passive_ports,
        passive__address=masquerade,
        server__workers=workers,
        anonymous__enabled=anonymous,
        logging__level=log_level,
        tls__implicit_port=implicit_port,
        tls__certificate=certificate,
        tls__key=key,
        server__user=user,
        server__group=group,
        server__allow_root=allow_root,
        metrics__enabled=False if metrics_listen == "off" else None,
        metrics__listen=metrics_listen if metrics_listen not in (None, "off") else None,
        admin__enabled=admin,
        admin__port=admin_port,
        accounts__url=db,
        cluster__node=node,
    )
    setup_logging(settings.logging.level)
    try:
        run(
            settings,
            lambda line: out.print(line, highlight=False, soft_wrap=True, emoji=False),
            start_admin,
        )
    except (*START_ERRORS, WorkerStartError) as exc:
        err.print(f"[red]Cannot start:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _ask_password(given: str | None) -> str:
    if given is not None:
        return given
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _account_call(
    config: Path | None, data_dir: Path | None, action: Any, *, create: bool = False
) -> Any:
    store = open_store(config, data_dir, create=create)

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
    """Add an account (password hashed with argon2). The first one creates the store."""
    try:
        Perm.parse(perms)
    except ValueError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from None
    secret = _ask_password(password)
    with_manager_async(
        config, data_dir, lambda m: m.add_user(name, secret, home=home, perms=perms), create=True
    )
    out.print(f"Added user {name!r}.", highlight=False, soft_wrap=True)


@user_app.command("del")
def user_del(name: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete an account (its files stay)."""
    if not with_manager_async(config, data_dir, lambda m: m.delete_user(name)):
        err.print(f"[red]Error:[/red] no user {name!r}.", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"Deleted user {name!r}.", highlight=False, soft_wrap=True)


@user_app.command("passwd")
def user_passwd(
    name: str, password: PasswordOpt = None, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Set a new password."""
    secret = _ask_password(password)
    with_manager_async(config, data_dir, lambda m: m.set_password(name, secret))
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


@user_app.command("set")
def user_set(
    name: str,
    pairs: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE pairs: groups=a,b (in order of precedence), home=DIR, "
            "perms=read,write, enabled=false, or any policy setting (see `pasv policy show`)."
        ),
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Change an account and its own settings (these win over its groups' and global ones)."""
    parsed = split_pairs(pairs)
    for line in with_manager_async(config, data_dir, lambda m: m.set_user(name, parsed)):
        out.print(line, highlight=False)


@user_app.command("unset")
def user_unset(
    name: str,
    keys: Annotated[list[str], typer.Argument(help="Setting names to remove.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Remove settings of a user (its groups' or the global value applies again)."""
    unset_options(config, data_dir, f"user:{name}", keys)


@user_app.command("usage")
def user_usage(
    name: str,
    rescan: Annotated[
        bool, typer.Option(help="Measure what the home directory holds now.")
    ] = False,
    credit: Annotated[str | None, typer.Option(help="Set the download credit, e.g. 10M.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Show (or reset) a user's storage used and download credit."""

    async def work(manager: Manager) -> str:
        usage = await manager.usage(name, credit=credit, rescan=rescan)
        if usage is None:
            return f"user {name}: no usage recorded (measured at its next transfer)"
        return (
            f"user {name}: {usage.bytes_used} bytes in {usage.files_used} files, "
            f"credit {usage.credit} bytes"
        )

    out.print(with_manager_async(config, data_dir, work), highlight=False)


app.add_typer(policy_app, name="policy")
app.add_typer(cluster_app, name="cluster")
app.add_typer(group_app, name="group")
app.add_typer(rule_app, name="rule")
app.add_typer(ip_app, name="ip")
app.add_typer(ban_app, name="ban")
app.add_typer(admin_app, name="admin")
