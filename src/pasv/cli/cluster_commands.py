"""`pasv cluster nodes|sessions`: every node of a PostgreSQL cluster and its live sessions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from pasv.cli.common import ConfigOpt, DataDirOpt, err, open_store, out, settings_from

if TYPE_CHECKING:
    from pasv.accounts.cluster_store import ClusterStore
    from pasv.accounts.postgres import PostgresAccountStore

cluster_app = typer.Typer(
    help="The nodes sharing one PostgreSQL database (accounts.url) and their sessions.",
    no_args_is_help=True,
)


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _cluster(config: ConfigOpt, data_dir: DataDirOpt) -> tuple[PostgresAccountStore, ClusterStore]:
    from pasv.accounts.cluster_store import ClusterStore
    from pasv.accounts.postgres import PostgresAccountStore

    store = open_store(config, data_dir)
    if not isinstance(store, PostgresAccountStore):
        asyncio.run(store.close())
        err.print("[red]Error:[/red] no cluster: accounts.url is not a postgresql:// URL")
        raise typer.Exit(1)
    heartbeat = settings_from(config, server__data_dir=data_dir).cluster.heartbeat
    return store, ClusterStore(store, heartbeat)


@cluster_app.command("nodes")
def nodes(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """The nodes and their last heartbeat."""
    store, cluster = _cluster(config, data_dir)
    try:
        table = Table("node", "address", "pid", "started", "heartbeat", "connections")
        for node in cluster.nodes():
            table.add_row(
                node.id,
                node.address,
                str(node.pid),
                _when(node.started),
                _when(node.heartbeat),
                str(node.connections),
            )
        out.print(table)
    finally:
        asyncio.run(store.close())


@cluster_app.command("sessions")
def sessions(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Every node's logged-in sessions (the transfer as of the node's last heartbeat)."""
    store, cluster = _cluster(config, data_dir)
    try:
        table = Table("node", "session", "user", "address", "since", "transfer")
        for row in cluster.sessions():
            table.add_row(
                row.node, str(row.session), row.user, row.address, _when(row.since), row.transfer
            )
        out.print(table)
    finally:
        asyncio.run(store.close())
