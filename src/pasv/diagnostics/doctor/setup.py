"""The setup stage: what a pasv server warns its operator about (SITE WARNINGS), as it says it."""

from __future__ import annotations

from pasv.diagnostics.doctor.link import Link
from pasv.diagnostics.doctor.report import Stage
from pasv.diagnostics.doctor.texts import say
from pasv.diagnostics.knowledge import Lang

__all__ = ["setup_stage"]


async def setup_stage(link: Link, lang: Lang) -> Stage:
    """One detail per warning (` key: text` lines of a 200 reply); skipped on other servers
    and for a user who is not one of the server's administrators."""
    reply = await link.command("SITE WARNINGS")
    if reply.code == 550 and "admin.console_group" in reply.text:  # pasv, for administrators
        return Stage("setup", "skip", say(lang, "setup_admins_only", reply=reply.text))
    if reply.code != 200 or not reply.text.startswith("WARNINGS"):
        return Stage("setup", "skip", say(lang, "setup_unavailable"))
    found: dict[str, str] = {}
    for line in reply.lines[1:-1]:
        key, sep, text = line.strip().partition(": ")
        if sep:
            found[key] = text
    if not found:
        return Stage("setup", "ok", say(lang, "setup_ok"), data={"warnings": {}})
    summary = say(lang, "setup_warn", count=len(found), keys=", ".join(found))
    details = [f"{key}: {text}" for key, text in found.items()]
    return Stage("setup", "warn", summary, details, data={"warnings": found})
