"""The composition root: which account store (and so which shared state), from the settings.

The server, the CLI and the admin API see only the ``AccountDatabase`` protocol; this module alone
names the implementations. (The storage backends get their own factory beside it.)
"""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

from pasv.accounts.sqlbase import AccountDatabase
from pasv.accounts.sqlite import SqliteAccountStore
from pasv.config import Settings
from pasv.server.cluster import Cluster

__all__ = ["describe_store", "is_shared", "node_name", "open_accounts", "open_cluster"]


def _sqlite_path(settings: Settings, default: Path) -> Path:
    url = settings.accounts.url
    if url is None or not url.lower().startswith("sqlite:"):
        return default
    path = urllib.parse.urlsplit(url).path
    return Path(path) if path else default


def is_shared(settings: Settings) -> bool:
    """Several nodes share this store (PostgreSQL): cluster state lives there too."""
    url = settings.accounts.url
    return url is not None and url.lower().startswith(("postgresql:", "postgres:"))


def open_accounts(
    settings: Settings,
    *,
    sqlite_path: Path | None = None,
    nofollow: bool = False,
    origin: str = "",
) -> AccountDatabase:
    """The store the settings name: PostgreSQL for ``accounts.url = "postgresql://..."``,
    else SQLite at ``sqlite_path`` (default ``<data_dir>/accounts.sqlite3``). ``origin`` names
    this writer in PostgreSQL's change notifications."""
    if is_shared(settings):
        from pasv.accounts.postgres import open_postgres  # psycopg only where it is used

        url = settings.accounts.url
        assert url is not None
        return open_postgres(
            url,
            pool_size=settings.accounts.pool_size,
            timeout=settings.accounts.timeout,
            origin=origin,
        )
    path = _sqlite_path(settings, sqlite_path or settings.accounts_db)
    return SqliteAccountStore(path, nofollow=nofollow)


def describe_store(settings: Settings) -> str:
    """Where accounts are kept, for messages (a PostgreSQL password never shown)."""
    if is_shared(settings):
        from pasv.accounts.postgres import safe_url

        assert settings.accounts.url is not None
        return safe_url(settings.accounts.url)
    return str(_sqlite_path(settings, settings.accounts_db))


def node_name(settings: Settings, worker: int | None = None) -> str:
    """This process's name in the cluster tables: ``cluster.node`` or host:port, with the
    worker's number when one ``pasv serve`` runs several."""
    base = settings.cluster.node or f"{socket.gethostname()}:{settings.server.port}"
    return base if worker is None else f"{base}/{worker}"


def open_cluster(settings: Settings, accounts: AccountDatabase, node: str) -> Cluster | None:
    """This node's part in a cluster when the accounts are shared (PostgreSQL), else None:
    one machine keeps its counters, bans and locks in ``server.shared`` alone."""
    if not is_shared(settings):
        return None
    from pasv.accounts.postgres import PostgresAccountStore

    if not isinstance(accounts, PostgresAccountStore):
        return None
    return Cluster(accounts, node, settings.cluster.heartbeat)
