"""The client commands: ls, get, put, cat, rm, mkdir, rmdir, mv, mirror."""

from __future__ import annotations

import typer

from pasv.cli.client import files, mirror

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    files.register(app)
    mirror.register(app)
