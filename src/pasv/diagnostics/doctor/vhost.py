"""The virtual-host stage: HOST (RFC 7151) when the URL names a host and the server lists it."""

from __future__ import annotations

from pasv.client.addressing import names_a_host
from pasv.client.errors import ConnectionFailed
from pasv.diagnostics.classify import Diagnosis
from pasv.diagnostics.doctor.link import Link
from pasv.diagnostics.doctor.reasons import control_lost
from pasv.diagnostics.doctor.report import Stage
from pasv.diagnostics.doctor.target import DoctorTarget
from pasv.diagnostics.doctor.texts import advice, say
from pasv.diagnostics.knowledge import Lang

__all__ = ["host_stage"]


async def host_stage(t: DoctorTarget, lang: Lang, link: Link) -> Stage | None:
    """None for an address (no virtual host to name); else HOST's verdict, as the client does."""
    if not names_a_host(t.host):
        return None
    try:
        await link.read_features()
        if "HOST" not in link.features:
            return Stage("host", "skip", say(lang, "host_not_listed", host=t.host))
        reply = await link.command(f"HOST {t.host}")
    except ConnectionFailed as exc:
        closed = Diagnosis("disconnected_at_connect")
        summary = control_lost(lang, exc)
        return Stage("host", "fail", summary, kind=closed.kind, advice=closed.advice(lang))
    line = f"{reply.code} {reply.text}"
    if reply.code == 220:
        return Stage("host", "ok", say(lang, "host_ok", host=t.host, reply=line))
    if reply.code in (500, 502):
        return Stage("host", "skip", say(lang, "host_not_listed", host=t.host))
    summary = say(lang, "host_unknown", host=t.host, reply=line)
    found = advice(lang, "unknown_host", host=t.host)
    return Stage("host", "fail", summary, kind="unknown_host", advice=found, data={"reply": line})
