"""`pasv explain` and `pasv pcap`: argument parsing and rich rendering of the diagnostics."""

from __future__ import annotations

import json
import locale
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pasv.diagnostics.classify import language_from_locale
from pasv.diagnostics.explain import explain
from pasv.diagnostics.knowledge import LANGS, Lang, knowledge, parse_lang
from pasv.diagnostics.pcap.packets import CaptureError
from pasv.diagnostics.pcap.report import analyse, extract, summary
from pasv.diagnostics.story import read_story

out = Console()
err = Console(stderr=True)


def _lang(ctx: typer.Context, value: str | None) -> Lang:
    """--lang as given, else the locale (LC_ALL, LC_MESSAGES, LANG, then the process locale)."""
    source = ctx.get_parameter_source("lang")
    if source is not None and source.name == "COMMANDLINE":
        chosen = parse_lang(value or "")
        if chosen is None:
            raise typer.BadParameter(f"choose one of: {', '.join(LANGS)} (zh is zh-Hans)")
        return chosen
    return language_from_locale(value, locale.getlocale()[0])


LangOpt = Annotated[
    str | None,
    typer.Option(
        "--lang",
        help="en, zh-Hans (or zh) or zh-Hant (default: from the locale, LC_ALL / "
        "LC_MESSAGES / LANG; zh_TW and zh_HK give zh-Hant).",
        envvar=["LC_ALL", "LC_MESSAGES", "LANG"],
        show_envvar=False,
        callback=_lang,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _section(title: str, meaning: str, causes: list[str], fixes: list[str], lang: Lang) -> None:
    kb = knowledge()
    if title:
        out.print(f"[bold]{escape(title)}[/bold]")
    out.print(f"  [cyan]{kb.note(lang, 'meaning')}:[/cyan] {escape(meaning)}", highlight=False)
    for label, items in (("causes", causes), ("fixes", fixes)):
        if items:
            out.print(f"  [cyan]{kb.note(lang, label)}:[/cyan]")
            for item in items:
                out.print(f"    • {escape(item)}", highlight=False)


def _print(result: dict[str, Any], lang: Lang) -> None:
    out.rule(escape(result["input"]) or "?", align="left")
    if "unknown" in result:
        out.print(escape(result["unknown"]), highlight=False)
    if "decoded" in result:
        out.print(f"[bold]{knowledge().note(lang, 'decoded')}[/bold]")
        for line in result["decoded"]["explanation"]:
            out.print(f"  {escape(line)}", highlight=False)
    if "specific" in result:
        spec = result["specific"]
        _section(spec["title"], spec["meaning"], spec["causes"], spec["fixes"], lang)
    if "unknown_text" in result:
        out.print(f"[yellow]{escape(result['unknown_text'])}[/yellow]", highlight=False)
    if "general" in result:
        gen = result["general"]
        _section(str(result["code"]), gen["meaning"], gen["causes"], gen["fixes"], lang)


def _print_story(story: dict[str, Any], lang: Lang) -> None:
    kb = knowledge()
    out.rule(kb.note(lang, "story_heading"), align="left")
    marks = {"command": "[cyan]>[/cyan]", "reply": "[green]<[/green]", "error": "[red]![/red]"}
    failed = story.get("failed", {}).get("line")
    for step in story["steps"]:
        line = f"{step['line']:4} {marks.get(step['kind'], ' ')} {escape(step['text'])}"
        out.print(f"[bold red]{line}[/bold red]" if step["line"] == failed else line,
                  highlight=False)  # fmt: skip
    out.print(f"[bold]{escape(story['summary'])}[/bold]", highlight=False)
    for line in story.get("context", []):
        out.print(f"  {escape(line)}", highlight=False)
    if "decoded" in story:
        out.print(f"[bold]{kb.note(lang, 'decoded')}[/bold]")
        for line in story["decoded"]:
            out.print(f"  {escape(line)}", highlight=False)
    if "advice" in story:
        found = story["advice"]
        _section(found["title"], found["meaning"], found["causes"], found["fixes"], lang)


def _read_log(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text("utf-8", errors="replace")
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror or exc}") from None


def explain_command(
    query: Annotated[
        str | None,
        typer.Argument(
            help='A reply code (425), a reply line ("530 Login incorrect."), a PORT/EPRT '
            'command, a client error ("Connection refused"), or several lines of a log.'
        ),
    ] = None,
    log: Annotated[
        str | None,
        typer.Option(
            "--log",
            help="A client's log (FILE, or - for standard input), read as one session: the "
            "first step that failed, explained in the light of the steps before it.",
        ),
    ] = None,
    lang: LangOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Explain an FTP reply or error, or a whole client log: what it means, likely causes, how
    to fix it."""
    language: Lang = lang  # type: ignore[assignment]  # the callback turned it into a Lang
    if log is None and query is None:
        raise typer.BadParameter("give a reply, an error message, or --log FILE")
    text = _read_log(log) if log is not None else query or ""
    if log is not None or len([line for line in text.splitlines() if line.strip()]) > 1:
        story = read_story(text).render(language)
        if as_json:
            out.print_json(json.dumps(story, ensure_ascii=False))
        else:
            _print_story(story, language)
        if not story["recognised"]:
            raise typer.Exit(1)
        return
    results = [e.render(language) for e in explain(text)]
    if as_json:
        out.print_json(json.dumps(results, ensure_ascii=False))
    else:
        for result in results:
            _print(result, language)
    if not any(r["recognised"] for r in results):
        raise typer.Exit(1)


def _print_session(session: dict[str, Any]) -> None:
    title = f"Session {session['session']}: {session['client']} -> {session['server']}"
    out.rule(f"{escape(title)}  ({session['start']})", align="left")
    if session["passwords"]:
        shown = ", ".join(repr(p) for p in session["passwords"])
        err.print(
            f"[yellow]Warning:[/yellow] FTP sent the credentials in clear: user "
            f"{session['user']!r}, password {escape(shown)}. Anyone on the path could read them;"
            " use FTPS (AUTH TLS) and change this password.",
            highlight=False,
            soft_wrap=True,
        )
    if session["encrypted_after_auth"]:
        out.print("[yellow]AUTH TLS: the rest of this session is encrypted.[/yellow]")
    for event in session["events"]:
        arrow = {"client": "[cyan]>[/cyan]", "server": "[green]<[/green]"}.get(event["from"], "?")
        for line in event["text"].splitlines() or [""]:
            out.print(f"{event['t']:10.3f}s {arrow} {escape(line)}", highlight=False)


def _files_table(files: list[dict[str, Any]]) -> Table:
    table = Table("#", "session", "kind", "name", "bytes", "sha256", "status", title="Transfers")
    for number, f in enumerate(files, 1):
        status = (
            "[green]complete[/green]"
            if f["complete"]
            else "[red]INCOMPLETE[/red]: " + escape("; ".join(f["problems"]))
        )
        if f["notes"]:
            status += "\n" + escape("; ".join(f["notes"]))
        name = f["path"]
        table.add_row(
            str(number),
            str(f["session"]),
            f["kind"],
            escape(name),
            f"{f['bytes']:,}",
            f["sha256"][:16] + "…",
            status,
        )
    return table


def pcap_command(
    capture: Annotated[Path, typer.Argument(help="A pcap or pcapng file.", exists=True)],
    extract_dir: Annotated[
        Path | None,
        typer.Option("--extract", help="Write every transferred file and listing here."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild the FTP sessions of a capture: commands, replies, files (with sha256)."""
    try:
        analysis = analyse(capture)
    except CaptureError as exc:
        err.print(f"[red]Error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if extract_dir is not None:
        extract(analysis, extract_dir)
    data = summary(analysis)
    for problem in analysis.problems:
        err.print(f"[yellow]Warning:[/yellow] {escape(problem)}", highlight=False, soft_wrap=True)
    if as_json:  # written as is: rich's highlighter needs ~80x the text's size and minutes
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if not data["sessions"]:
        out.print("No FTP control session in this capture.")
    for session in data["sessions"]:
        _print_session(session)
    if data["files"]:
        out.print(_files_table(data["files"]))
    if data["other_connections"]:
        out.print(
            f"{data['other_connections']} other TCP connection(s) belong to no FTP session "
            "(another protocol, or data connections whose announcement is not in the capture).",
            highlight=False,
        )
    if extract_dir is not None:
        out.print(
            f"Files written under {escape(str(extract_dir))}; their SHA-256 sums are in "
            f"{escape(str(extract_dir / 'SHA256SUMS'))} (check with sha256sum -c).",
            highlight=False,
        )
    incomplete = [f for f in data["files"] if not f["complete"]]
    if incomplete:
        out.print(
            f"[red]{len(incomplete)} of {len(data['files'])} transfers are incomplete in this"
            " capture[/red] (written with the suffix .incomplete; missing parts are zero bytes).",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    """Add the diagnostics commands to the `pasv` application."""
    app.command("explain")(explain_command)
    app.command("pcap")(pcap_command)
