"""`pasv doctor URL`: arguments, the password (URL, PASV_PASSWORD, netrc, prompt), rendering."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pasv.cli.client.options import Common
from pasv.cli.client.run import prepare, url_argument
from pasv.cli.diagnostics_commands import JsonOpt, LangOpt
from pasv.client.trace import Kind, format_event
from pasv.diagnostics.doctor import DoctorTarget, Report, run_doctor
from pasv.diagnostics.doctor.target import TransferMode
from pasv.diagnostics.knowledge import Lang, knowledge
from pasv.policy.options import parse_size

__all__ = ["register"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)
BADGES = {
    "ok": "[green]✓ ok  [/green]",
    "warn": "[yellow]! warn[/yellow]",
    "fail": "[red]✗ FAIL[/red]",
    "skip": "[dim]- skip[/dim]",
}


def _render(report: dict[str, Any], lang: Lang) -> None:
    kb = knowledge()
    out.rule(f"pasv doctor {escape(report['target'])}", align="left")
    for stage in report["stages"]:
        out.print(f"{BADGES[stage['status']]} [bold]{escape(stage['title']):<12}[/bold] "
                  f"{escape(stage['summary'])}")  # fmt: skip
        for line in stage["details"]:
            out.print(f"         [dim]{escape(line)}[/dim]")
        found = stage.get("advice")
        if found and stage["status"] in ("fail", "warn"):
            out.print(
                f"         [cyan]{kb.note(lang, 'meaning')}:[/cyan] {escape(found['meaning'])}"
            )
            for label in ("causes", "fixes"):
                if found[label]:
                    out.print(f"         [cyan]{kb.note(lang, label)}:[/cyan]")
                    for item in found[label]:
                        out.print(f"           • {escape(item)}")


def _size(text: str) -> int:
    try:
        return max(1, parse_size(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _modes(passive: bool, active: bool) -> tuple[TransferMode, ...]:
    if passive == active:
        return ("passive", "active")
    return ("passive",) if passive else ("active",)


def doctor_command(
    url: Annotated[str, typer.Argument(help="ftp://user[:pass]@host[:port]/dir or ftps://…")],
    lang: LangOpt = None,
    json_out: JsonOpt = False,
    tls: Annotated[bool, typer.Option("--tls", help="Explicit FTPS (AUTH TLS).")] = False,
    ca: Annotated[Path | None, typer.Option("--ca", help="CA file (PEM) to trust.")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Show the certificate without verifying it.")
    ] = False,
    write: Annotated[
        bool, typer.Option("--write", help="Upload, download and delete a temporary file.")
    ] = False,
    sample_size: Annotated[
        str, typer.Option("--sample-size", help="Bytes for --write and the throughput sample.")
    ] = "1M",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait per step.")] = 10.0,
    passive: Annotated[
        bool, typer.Option("--passive", help="Test passive mode (EPSV, PASV) only.")
    ] = False,
    active: Annotated[
        bool, typer.Option("--active", help="Test active mode (PORT/EPRT) only.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print the session (Command/Response).")
    ] = False,
    netrc_file: Annotated[
        Path | None, typer.Option("--netrc-file", help="netrc file instead of ~/.netrc.")
    ] = None,
    password: Annotated[
        str | None, typer.Option("--password", envvar="PASV_PASSWORD", hidden=True)
    ] = None,
) -> None:
    """Probe a server stage by stage (DNS, TCP, greeting, TLS, login, data channels, listing,
    --write, throughput) and say what fails and how to fix it. Both transfer modes are tested
    (passive first) unless --passive or --active names the one your client uses. Exit 0 when
    every stage passed, 1 a requested transfer mode, the listing or --write failed, 2 usage,
    3 login, 4 connection, 5 stopped at a ban or connection limit."""
    chosen: Lang = lang  # type: ignore[assignment]  # the callback turned it into a Lang
    parsed = url_argument(url)
    common = Common(
        tls=tls, ca=ca, insecure=insecure, timeout=timeout, netrc_file=netrc_file,
        password=password,
    )  # fmt: skip
    ready = prepare(parsed, common)

    def trace(kind: Kind, text: str) -> None:
        err.print(format_event(kind, text), markup=False)

    target = DoctorTarget(
        host=ready.target.host,
        port=ready.target.port,
        user=ready.target.user,
        password=ready.target.password,
        path=parsed.path,
        tls="implicit" if parsed.implicit_tls else "explicit" if tls else "none",
        ssl_context=ready.options.ssl_context,
        verify=not insecure,
        timeout=timeout,
        write=write,
        modes=_modes(passive, active),
        sample_bytes=_size(sample_size),
        display=parsed.display,
        trace=trace if verbose else None,
    )
    report: Report = asyncio.run(run_doctor(target, chosen))
    result = report.as_dict()
    if json_out:
        out.print_json(json.dumps(result, ensure_ascii=False))
    else:
        _render(result, chosen)
    raise typer.Exit(int(report.exit_code))


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
