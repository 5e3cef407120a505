"""`pasv health HOST`: ready (exit 0), refusing new sessions (1) or down (2), from the greeting."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from pasv.cli.common import out
from pasv.client.health import check_health

__all__ = ["register"]


def health_command(
    host: Annotated[str, typer.Argument(help="The node's address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Its control port.")] = 2121,
    timeout: Annotated[float, typer.Option(help="Seconds for the connection and greeting.")] = 5.0,
    proxy_header: Annotated[
        bool,
        typer.Option(
            "--proxy-header",
            help="Send a PROXY v2 LOCAL header first (the node trusts this address as a balancer).",
        ),
    ] = False,
) -> None:
    """Does this node take new sessions? Exit 0 ready (220), 1 refusing (421: draining for
    shutdown, or full), 2 down (no connection or no greeting).

    For a balancer's external check or a container probe; see docs/deployment.md."""
    report = asyncio.run(check_health(host, port, timeout, proxy_header=proxy_header))
    out.print(f"{report.health.name.lower()}: {report.detail}", highlight=False, soft_wrap=True)
    raise typer.Exit(int(report.health))


def register(app: typer.Typer) -> None:
    app.command("health")(health_command)
