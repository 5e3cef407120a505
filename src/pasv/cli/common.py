"""What every `pasv` subcommand shares: consoles, the settings and the account store."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pasv.accounts.base import AccountError
from pasv.accounts.sqlbase import AccountDatabase
from pasv.accounts.sqlite import holds_store
from pasv.config import ConfigError, Settings, load_settings

out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (accounts, files).")
]


def settings_from(config: Path | None, **overrides: Any) -> Settings:
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


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def require_store(settings: Settings) -> None:
    """Exit 1, naming the path, when the data directory holds no pasv store: a management
    command run from the wrong folder must not create an empty one and act on it."""
    path = settings.accounts_db
    if not holds_store(path):
        err.print(
            f"[red]Error:[/red] no pasv store at {path.absolute()} (data directory "
            f"{settings.server.data_dir.absolute()}). Give the server's --data-dir or --config; "
            "`pasv serve` or the first `pasv user add` creates a store.",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


def open_store(
    config: Path | None, data_dir: Path | None, *, create: bool = False
) -> AccountDatabase:
    """The configured store: <data_dir>/accounts.sqlite3 (which must exist unless ``create``),
    or ``accounts.url`` (PostgreSQL; also PASV_ACCOUNTS_URL)."""
    from pasv.server.composition import is_shared, open_accounts

    settings = settings_from(config, server__data_dir=data_dir)
    if not is_shared(settings):
        if not create:
            require_store(settings)
        settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return open_accounts(settings, origin="pasv command")
    except AccountError as exc:
        err.print(f"[red]Error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
