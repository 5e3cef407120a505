"""The login stage: USER/PASS, and what a refusal means (wrong password, IP, limits, ban, TLS)."""

from __future__ import annotations

import dataclasses

from pasv.client.errors import ConnectionFailed
from pasv.diagnostics.classify import Diagnosis
from pasv.diagnostics.doctor.link import Link
from pasv.diagnostics.doctor.probe import Probe
from pasv.diagnostics.doctor.reasons import reason
from pasv.diagnostics.doctor.report import Stage, reply_advice
from pasv.diagnostics.doctor.target import DoctorTarget
from pasv.diagnostics.doctor.texts import say
from pasv.diagnostics.knowledge import Lang

__all__ = ["login_stage"]


async def _settings(link: Link) -> list[str]:
    """FEAT, UTF-8, binary type, and PBSZ/PROT P on TLS; the features the server offers."""
    await link.read_features()
    if "UTF8" in link.features:
        await link.command("OPTS UTF8 ON")
    await link.command("TYPE I")
    if link.ctrl.is_tls:
        await link.command("PBSZ 0")
        link.prot_p = (await link.command("PROT P")).code == 200
    return sorted(link.features)


async def login_stage(t: DoctorTarget, lang: Lang, link: Link, probe: Probe) -> Stage:
    """Log in once as the URL's user (anonymous without one); the password is never shown."""
    try:
        reply = await link.command(f"USER {t.user}")
        if reply.code == 331:
            reply = await link.command(f"PASS {t.password}")
            if reply.code >= 400:
                probe.failed_logins += 1
        if reply.code == 230:
            features = await _settings(link)
    except ConnectionFailed as exc:
        closed = Diagnosis("disconnected_at_connect")
        summary = say(lang, "login_closed", user=t.user, reason=reason(lang, exc))
        return Stage("login", "fail", summary, kind=closed.kind, advice=closed.advice(lang))
    line = f"{reply.code} {reply.text}"
    if reply.code == 230:
        summary = say(lang, "login_ok", user=t.user)
        details = [say(lang, "login_features", features=" ".join(features) or "-")]
        if t.tls != "none" and not link.prot_p:
            details.append(say(lang, "login_no_prot_p"))
        return Stage("login", "ok", summary, details, data={"features": features})
    kind, found = reply_advice(reply, lang, "login")
    summary = say(lang, "login_refused", user=t.user, reply=line)
    if kind == "tls_required" and t.tls == "none":
        summary = say(lang, "login_tls_required", reply=line)
        if found is not None:
            found = dataclasses.replace(found, fixes=(say(lang, "fix_use_tls"), *found.fixes))
    return Stage("login", "fail", summary, kind=kind, advice=found, data={"reply": line})
