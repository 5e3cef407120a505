"""The account `pasv serve` makes on an empty store, and what it tells the operator then."""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable
from pathlib import Path

from pasv.accounts.base import AccountExists, AccountStore
from pasv.config import Settings

FIRST_USER = "pasv"
_DEFAULT_DATA_DIR = Path("pasv-data")


async def create_first_user(
    store: AccountStore, settings: Settings, say: Callable[[str], None]
) -> None:
    """With no account yet, one ordinary FTP user with a random password, said once with the
    URL to use it and how to make an administrator (the first user is none: its password goes
    with every FTP login, often in clear, so it is not also the key to the admin console)."""
    if await store.count() != 0:
        return
    password = secrets.token_urlsafe(12)
    try:
        await store.add(FIRST_USER, password)
    except AccountExists:  # another node, starting at the same time, made it
        return
    host = settings.server.host or "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    say(f"Created the first user {FIRST_USER!r}; its password is shown only this once:")
    say(f"  ftp://{FIRST_USER}:{password}@{shown}:{settings.server.port}/")
    for line in administrator_hints(settings):
        say(line)


def administrator_hints(settings: Settings) -> list[str]:
    """How to manage users and make an administrator, as commands to run for this store."""
    where = ""
    if settings.server.data_dir != _DEFAULT_DATA_DIR:
        where = f" --data-dir {shlex.quote(str(settings.server.data_dir))}"
    group = shlex.quote(settings.admin.console_group)
    console = " nor log in to the admin console with a password" if settings.admin.enabled else ""
    lines = [
        f"Manage users with: pasv user add|del|passwd|list|show{where}",
        f"{FIRST_USER!r} is an FTP user, not an administrator: it does not see the setup "
        f"warnings (SITE WARNINGS, the Setup stage of pasv doctor){console}.",
        "Make an administrator (NAME: a new account; the group is admin.console_group):",
        f"  pasv group add {group}{where} && pasv user add NAME{where}"
        f" && pasv user set NAME groups={group}{where}",
    ]
    if settings.admin.enabled:
        lines.append("Or log in to the admin console with a token:")
        lines.append(f"  pasv admin token create NAME --scopes read,write{where}")
    return lines
