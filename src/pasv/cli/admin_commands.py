"""`pasv admin token create|list|revoke`: the admin API's bearer tokens."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.table import Table

from pasv.admin.tokens import TokenStore, parse_scopes
from pasv.cli.common import ConfigOpt, DataDirOpt, err, open_store, out

admin_app = typer.Typer(help="The admin HTTP API and web console.", no_args_is_help=True)
token_app = typer.Typer(
    help="Bearer tokens for the admin API (stored hashed).", no_args_is_help=True
)
admin_app.add_typer(token_app, name="token")


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. 'monitoring'.")],
    scopes: Annotated[str, typer.Option(help="read, or read,write.")] = "read",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Make a token; its secret is printed once (only a hash of it is stored)."""
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    store = open_store(config, data_dir)
    try:
        token, secret = TokenStore(store).create(name, wanted)
    except ValueError as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    finally:
        asyncio.run(store.close())
    out.print(
        f"Created token {token.id} ({token.name}, scopes {','.join(token.scopes)}). "
        "Its secret is shown only this once:",
        highlight=False,
    )
    out.print(secret, highlight=False, markup=False)


@token_app.command("list")
def token_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Tokens, their scopes and when they were last used (never their secrets)."""
    store = open_store(config, data_dir)
    try:
        tokens = TokenStore(store).list()
    finally:
        asyncio.run(store.close())
    table = Table("id", "name", "scopes", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            ",".join(t.scopes),
            _when(t.created),
            _when(t.last_used),
            _when(t.revoked),
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(number: int, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke a token by its id: the API refuses it from the next request on."""
    store = open_store(config, data_dir)
    try:
        done = TokenStore(store).revoke(number)
    finally:
        asyncio.run(store.close())
    if not done:
        err.print(f"[red]Error:[/red] no token {number} in force.", highlight=False)
        raise typer.Exit(1)
    out.print(f"Revoked token {number}.", highlight=False)
