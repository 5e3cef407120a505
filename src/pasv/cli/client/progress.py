"""Progress bars with rate and ETA (rich), shown on a terminal unless --quiet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pasv.cli.client.run import err
from pasv.client.client import Progress as Advance

__all__ = ["progress_bar"]


def _ignore(n: int) -> None:
    """No progress display: bytes are not counted."""


@contextmanager
def progress_bar(label: str, total: int | None, quiet: bool) -> Iterator[Advance]:
    """A callback that advances a bar by n bytes; a no-op when quiet or not on a terminal."""
    if quiet or not err.is_terminal:
        yield _ignore
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance
