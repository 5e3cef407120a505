"""The options every client command takes, declared once and added to each command."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer

__all__ = ["Common", "client_command"]


@dataclass(frozen=True)
class Common:
    """Connection, output and retry settings shared by ls, get, put, mirror …"""

    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print the session (Status/Command/Response).")
    ] = False
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no summary; errors only.")
    ] = False
    tls: Annotated[bool, typer.Option("--tls", help="Explicit FTPS (AUTH TLS) on ftp:// URLs.")] = (
        False
    )
    ca: Annotated[
        Path | None, typer.Option("--ca", help="CA certificate file (PEM) to trust for TLS.")
    ] = None
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify the server's TLS certificate.")
    ] = False
    active: Annotated[
        bool, typer.Option("--active", help="Active mode (PORT/EPRT) instead of passive.")
    ] = False
    trust_pasv_address: Annotated[
        bool,
        typer.Option(
            "--trust-pasv-address",
            help="Connect to the address a PASV reply names even when it is not the server's.",
        ),
    ] = False
    encoding: Annotated[
        str, typer.Option("--encoding", help="Encoding of names, for servers without UTF-8.")
    ] = "utf-8"
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds to wait for a reply; a transfer on which no byte moves that long fails.",
        ),
    ] = 30.0
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retries after a transient failure.")
    ] = 3
    retry_delay: Annotated[
        float,
        typer.Option(
            "--retry-delay", min=0.0, help="Shortest wait before a retry, in seconds (it grows)."
        ),
    ] = 3.0
    compress: Annotated[
        bool,
        typer.Option("--compress", help="MODE Z (deflate) when the server's FEAT lists it."),
    ] = False
    block: Annotated[
        bool,
        typer.Option("--block", help="MODE B: restart markers; get/put resume from the last one."),
    ] = False
    netrc_file: Annotated[
        Path | None, typer.Option("--netrc-file", help="netrc file to use instead of ~/.netrc.")
    ] = None
    password: Annotated[
        str | None, typer.Option("--password", envvar="PASV_PASSWORD", hidden=True)
    ] = None


_HINTS = get_type_hints(Common, include_extras=True)
_COMMON = [
    inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=_HINTS[f.name]
    )
    for f in fields(Common)
]


def client_command(app: typer.Typer, name: str) -> Callable[[Callable[..., None]], None]:
    """Register ``func(common, **own_options)`` as command ``name`` with the common options."""

    def decorate(func: Callable[..., None]) -> None:
        hints = get_type_hints(func, include_extras=True)
        own = [
            p.replace(annotation=hints[p.name])
            for p in list(inspect.signature(func).parameters.values())[1:]
        ]

        def command(**kwargs: Any) -> None:
            common = Common(**{p.name: kwargs.pop(p.name) for p in _COMMON})
            func(common, **kwargs)

        params = [*own, *_COMMON]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__doc__ = func.__doc__
        command.__name__ = func.__name__
        app.command(name)(command)

    return decorate
