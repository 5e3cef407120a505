"""`pasv rule`, `pasv ip` and `pasv ban`: who may do what where, and from which address."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from pasv.cli.common import ConfigOpt, DataDirOpt, err, out
from pasv.cli.policy_commands import with_manager, with_policy
from pasv.policy.limits import minutes_left
from pasv.policy.models import Action

rule_app = typer.Typer(help="Authorization rules (allow/deny per path and command).")
ip_app = typer.Typer(help="IP allow and deny lists: server-wide, per group or per user.")
ban_app = typer.Typer(help="Addresses banned for hammering, or by hand.")

ActionArg = Annotated[Action, typer.Argument(help="allow or deny")]


def _fail(text: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]Error:[/red] {text}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


# --- rules ---------------------------------------------------------------------------------
@rule_app.command("add")
def rule_add(
    action: ActionArg,
    path: Annotated[str, typer.Option(help="Virtual path (globs allowed); covers all below.")],
    perms: Annotated[str, typer.Option(help="e.g. read, write, LIST,RETR, STOR,APPE.")],
    to: Annotated[
        str, typer.Option(help="Whom: * everyone, ? anonymous, @group, user; comma-separated.")
    ] = "*",
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Add an authorization rule. The most specific path decides; deny beats allow there."""
    rule = with_manager(config, data_dir, lambda m: m.add_rule(action, path, perms, to))
    out.print(f"Added rule {rule.id}: {rule.describe().split(': ', 1)[1]}", highlight=False)


@rule_app.command("list")
def rule_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """All authorization rules."""
    rules = with_policy(config, data_dir, lambda store: store.rules())
    table = Table("id", "action", "permissions", "path", "to")
    for rule in rules:
        who = ",".join(str(s) for s in rule.subjects)
        table.add_row(str(rule.id), str(rule.action), rule.perms.describe(), rule.path, who)
    out.print(table)


@rule_app.command("del")
def rule_del(number: int, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete a rule by its id (see `pasv rule list`)."""
    if not with_manager(config, data_dir, lambda m: m.delete_rule(number)):
        raise _fail(f"no rule {number}", 1)
    out.print(f"Deleted rule {number}.", highlight=False)


# --- IP rules ------------------------------------------------------------------------------
@ip_app.command("add")
def ip_add(
    action: ActionArg,
    network: Annotated[str, typer.Argument(help="An address or CIDR network, IPv4 or IPv6.")],
    user: Annotated[str | None, typer.Option(help="Only for this user (checked at login).")] = None,
    group: Annotated[str | None, typer.Option(help="Only for this group (at login).")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Allow or deny a network. Server-wide rules are checked at connect (421), user and group
    rules at login (530). Once any allow rule exists in a scope, only allowed addresses pass."""
    if user and group:
        raise _fail("give --user or --group, not both")
    rule = with_manager(config, data_dir, lambda m: m.add_ip_rule(action, network, user, group))
    out.print(f"Added IP rule {rule.id}: {rule.describe().split(': ', 1)[1]}", highlight=False)


@ip_app.command("list")
def ip_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """All IP rules."""
    rules = with_policy(config, data_dir, lambda store: store.ip_rules())
    table = Table("id", "action", "network", "applies to")
    for rule in rules:
        table.add_row(str(rule.id), str(rule.action), str(rule.network), rule.scope or "server")
    out.print(table)


@ip_app.command("del")
def ip_del(number: int, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Delete an IP rule by its id (see `pasv ip list`)."""
    if not with_manager(config, data_dir, lambda m: m.delete_ip_rule(number)):
        raise _fail(f"no IP rule {number}", 1)
    out.print(f"Deleted IP rule {number}.", highlight=False)


# --- bans ----------------------------------------------------------------------------------
@ban_app.command("list")
def ban_list(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Bans in force, in every worker."""
    bans = with_policy(config, data_dir, lambda store: store.bans())
    now = time.time()
    table = Table("address", "minutes left", "offence", "reason")
    for ban in sorted(bans.values(), key=lambda b: b.until):
        table.add_row(ban.ip, str(minutes_left(ban.until, now)), str(ban.offences), ban.reason)
    out.print(table)


@ban_app.command("add")
def ban_add(
    address: str,
    minutes: Annotated[float, typer.Option(help="How long.", min=0.1)] = 60.0,
    reason: Annotated[str, typer.Option(help="Shown to the client in the 421 reply.")] = (
        "Your address is banned by the administrator"
    ),
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Ban an address now (running servers apply it within a second)."""
    ban = with_manager(config, data_dir, lambda m: m.ban(address, minutes, reason))
    out.print(f"Banned {ban.ip} for {minutes:g} minutes.", highlight=False)


@ban_app.command("lift")
def ban_lift(address: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """End a ban (and forget the address's earlier offences)."""
    if not with_manager(config, data_dir, lambda m: m.lift(address)):
        raise _fail(f"{address} is not banned", 1)
    out.print(f"Lifted the ban on {address}.", highlight=False)
