"""The data-channel stages: EPSV, PASV (with the server's own word on what it announced), PORT,
and TLS session reuse on data connections."""

from __future__ import annotations

import re

from pasv.client.addressing import is_ipv6, passive_host
from pasv.diagnostics.addressing import AddressDecoding, bad_address, classify_address
from pasv.diagnostics.classify import code_advice
from pasv.diagnostics.doctor.link import Link, Mode, Moved, StepFailed
from pasv.diagnostics.doctor.reasons import reason
from pasv.diagnostics.doctor.report import Stage, Status, reply_advice
from pasv.diagnostics.doctor.texts import advice, say
from pasv.diagnostics.knowledge import Advice, Lang
from pasv.protocol.addresses import parse_227, parse_229
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply

__all__ = [
    "active_stage", "epsv_stage", "pasv_stage", "reuse_stage", "step_detail", "step_failure",
]  # fmt: skip

PROBE = "LIST"  # the home directory's listing: always there, small
_ANNOUNCED = re.compile(r"\b(227|229)\s+(.*)$")
_UNSUPPORTED = frozenset({500, 501, 502, 504})


def step_detail(lang: Lang, exc: StepFailed) -> str:
    """What went wrong at the step, in ``lang``: the error underneath said by its phrase
    ("连接被拒绝 (ECONNREFUSED)"), with the address for a data connection that failed."""
    if exc.cause is None:
        return exc.detail
    why = reason(lang, exc.cause)
    if exc.step == "connect":
        return say(lang, "tcp_error", address=exc.values["host"], port=exc.values["port"],
                   reason=why)  # fmt: skip
    return why


_STEP_KINDS = {"connect": "passive_ports_closed", "accept": "active_blocked",
               "tls": "data_tls_failed", "stalled": "transfer_stalled",
               "stalled_upload": "transfer_stalled",
               "no_final": "final_reply_missing"}  # fmt: skip


def step_failure(key: str, exc: StepFailed, lang: Lang, **values: object) -> Stage:
    """A stage that failed at one step of a transfer, with the advice for that step."""
    if exc.step == "announce" and exc.reply is not None:
        broken = _broken(key, exc.reply, lang, "fail")
        if broken is not None:  # a broken 227/229 gets no advice meant for a refused one
            return broken
    details = []
    if exc.reply is not None and exc.step in (
        "accept",
        "tls",
        "transfer",
        "stalled",
        "stalled_upload",
    ):
        details.append(say(lang, "server_said", reply=f"{exc.reply.code} {exc.reply.text}"))
    known = {**exc.values, **values}
    kind: str | None = _STEP_KINDS.get(exc.step)
    if kind is None and key == "port" and exc.reply is not None and exc.reply.code == 425:
        kind = "active_blocked"
    found: Advice | None
    if kind is not None:
        found = advice(lang, kind, **known)
    elif exc.reply is not None:
        kind, found = reply_advice(exc.reply, lang, key)
    else:
        kind, found = "disconnected_at_connect", code_advice(426, lang)
    step = say(lang, f"step_{exc.step}", detail=step_detail(lang, exc), **known)
    summary = say(lang, f"{key}_failed", detail=step)
    return Stage(key, "fail", summary, details, kind, found, {"step": exc.step} | exc.values)


def _broken(key: str, reply: Reply, lang: Lang, status: Status) -> Stage | None:
    """A 227/229 whose address nobody can connect to: the reply is broken, not refused."""
    bad = bad_address(reply.code, reply.text)
    if bad is None:
        return None
    line = f"{reply.code} {reply.text}"
    meaning, fix = bad.lines(lang)
    found = Advice(meaning, (), (fix,))
    command = "PASV" if reply.code == 227 else "EPSV"
    summary = say(lang, "reply_broken", command=command, reply=line)
    return Stage(key, status, summary, [], "passive_reply_broken", found, {"problem": bad.problem})


def _moved_details(lang: Lang, moved: Moved) -> list[str]:
    out = [say(lang, "data_listing", bytes=len(moved.received), reply=moved.final.text.rstrip("."))]
    if moved.reused is not None:
        out.append(say(lang, "data_reused" if moved.reused else "data_not_reused"))
    return out


async def epsv_stage(link: Link, lang: Lang) -> tuple[Stage, Moved | None]:
    """EPSV (RFC 2428): the port only; the data connection goes to the control address."""
    reply, port = await link.epsv()
    line = f"{reply.code} {reply.text}"
    if port is None:
        broken = _broken("epsv", reply, lang, "fail")
        if broken is not None:
            return broken, None
        ipv6 = is_ipv6(link.peer)
        status: Status = "fail" if ipv6 or reply.code not in _UNSUPPORTED else "warn"
        kind, found = reply_advice(reply, lang, "epsv", "EPSV")
        summary = say(lang, "epsv_refused_v6" if ipv6 else "epsv_refused", reply=line)
        return Stage("epsv", status, summary, kind=kind, advice=found), None
    details = [say(lang, "server_said", reply=line), *AddressDecoding("229", port).lines(lang)]
    values: dict[str, object] = {"host": link.peer, "port": port, "peer": link.peer, "code": 229}
    said = await _server_port(link)
    if said is not None:
        details.append(say(lang, "pasvinfo_port", port=said))
    rewritten = said is not None and said != port
    if rewritten:
        values.update(server_host=link.peer, server_port=said)
    data = {"port": port, "server_port": said}
    try:
        moved = await link.transfer(await link.connect(link.peer, port), PROBE)
    except StepFailed as exc:
        stage = step_failure("epsv", exc, lang, **values)
        if rewritten:
            _blame(stage, lang, "passive_rewritten", values)
        stage.details = details + stage.details
        stage.data = {**data, **stage.data}
        return stage, None
    details += _moved_details(lang, moved)
    if rewritten:
        kind = "passive_rewritten"
        summary = say(lang, f"{kind}_summary", **values)
        return Stage(
            "epsv", "warn", summary, details, kind, advice(lang, kind, **values), data
        ), moved
    summary = say(lang, "epsv_ok", host=link.peer, port=port)
    return Stage("epsv", "ok", summary, details, data=data), moved


def _blame(stage: Stage, lang: Lang, kind: str, values: dict[str, object]) -> None:
    """The announced address is the cause of a failed data connection, not a firewall."""
    stage.details.append(stage.summary)
    stage.kind, stage.advice = kind, advice(lang, kind, **values)
    stage.summary = say(lang, f"{kind}_summary", **values)


async def _server_said(link: Link, code: str) -> str | None:
    """The 227/229 text a pasv server says it sent (SITE PASVINFO); None from other servers."""
    reply = await link.command("SITE PASVINFO")
    m = _ANNOUNCED.search(reply.text) if reply.code == 200 else None
    return m.group(2) if m is not None and m.group(1) == code else None


async def _server_announced(link: Link) -> tuple[str, int] | None:
    said = await _server_said(link, "227")
    try:
        return parse_227(said) if said is not None else None
    except FtpError:
        return None


async def _server_port(link: Link) -> int | None:
    said = await _server_said(link, "229")
    try:
        return parse_229(said) if said is not None else None
    except FtpError:
        return None


def _pasv_verdict(
    lang: Lang, received: tuple[str, int], said: tuple[str, int] | None, peer: str
) -> tuple[str | None, dict[str, object]]:
    """The address problem of a 227, if any: rewritten on the way, or the server's NAT setting."""
    values: dict[str, object] = {
        "host": received[0], "port": received[1], "peer": peer,
        "category": classify_address(received[0]),
    }  # fmt: skip
    if said is not None and said != received:
        values.update(server_host=said[0], server_port=said[1], code=227)
        return "passive_rewritten", values
    if passive_host(received[0], peer)[1] is not None:
        return "passive_nat_address", values
    return None, values


async def pasv_stage(link: Link, lang: Lang, epsv_ok: bool) -> tuple[Stage, Moved | None]:
    """PASV: the 227's address checked against the control address and the server's own word."""
    if is_ipv6(link.peer):
        return Stage("pasv", "skip", say(lang, "pasv_ipv6")), None
    reply, received = await link.pasv()
    line = f"{reply.code} {reply.text}"
    if received is None:
        status: Status = "warn" if epsv_ok else "fail"
        broken = _broken("pasv", reply, lang, status)
        if broken is not None:
            return broken, None
        kind, found = reply_advice(reply, lang, "pasv", "PASV")
        return Stage("pasv", status, say(lang, "pasv_refused", reply=line), [], kind, found), None
    details = [say(lang, "server_said", reply=line)]
    decoded = AddressDecoding("227", received[1], received[0]).lines(lang)
    details += decoded if received[0] != link.peer else decoded[:1]
    said = await _server_announced(link)
    if said is None:
        details.append(say(lang, "pasvinfo_unavailable"))
    else:
        details.append(say(lang, "pasvinfo", host=said[0], port=said[1]))
    kind, values = _pasv_verdict(lang, received, said, link.peer)
    host, note = passive_host(received[0], link.peer)
    if note is not None:
        details.append(say(lang, "pasv_using_peer", host=received[0], peer=link.peer))
    data = {"announced": list(received), "server_announced": list(said) if said else None}
    try:
        moved = await link.transfer(await link.connect(host, received[1]), PROBE)
    except StepFailed as exc:
        stage = step_failure("pasv", exc, lang, host=host, port=received[1], peer=link.peer)
        if kind is not None:
            _blame(stage, lang, kind, values)
        stage.details = details + stage.details
        stage.data = {**data, **stage.data}
        return stage, None
    details += _moved_details(lang, moved)
    if kind is None:
        summary = say(lang, "pasv_ok", host=received[0], port=received[1])
        return Stage("pasv", "ok", summary, details, data=data), moved
    status = "warn" if kind == "passive_rewritten" and note is None else "fail"
    summary = say(lang, f"{kind}_summary", **values)
    return Stage("pasv", status, summary, details, kind, advice(lang, kind, **values), data), moved


async def active_stage(link: Link, lang: Lang) -> tuple[Stage, Moved | None]:
    """PORT/EPRT: the server connects to us. A refused command is the server refusing active
    mode; a connection that never comes is this side's firewall or NAT."""
    try:
        listener, line = await link.listen()
    except StepFailed as exc:
        return step_failure("port", exc, lang), None
    host, port = listener.host, listener.port
    reply = await link.command(line)
    if reply.code != 200:
        listener.close()
        kind, found = reply_advice(reply, lang, "port", line)
        summary = say(lang, "port_refused", reply=f"{reply.code} {reply.text}")
        return Stage("port", "fail", summary, [line], kind, found), None
    try:
        moved = await link.transfer(listener, PROBE)
    except StepFailed as exc:
        stage = step_failure("port", exc, lang, host=host, port=port)
        stage.details.insert(0, line)
        return stage, None
    summary = say(lang, "port_ok", host=host, port=port)
    return Stage("port", "ok", summary, [line, *_moved_details(lang, moved)]), moved


async def reuse_stage(link: Link, lang: Lang, mode: Mode, first: Moved) -> Stage:
    """TLS on data connections: did the server resume our session, and does it insist on it?"""
    details = [say(lang, "data_reused" if first.reused else "data_not_reused")]
    try:
        await link.transfer(await link.open(mode), PROBE, resume=False)
    except StepFailed as exc:
        refused: Reply | None = exc.reply
        shown = f"{refused.code} {refused.text}" if refused else step_detail(lang, exc)
        details.append(say(lang, "reuse_required", reply=shown))
        status: Status = "ok" if first.reused else "fail"
        kind = "tls_reuse_required" if first.reused else "data_tls_failed"
        return Stage(
            "data_tls", status, say(lang, f"{kind}_summary"), details, kind,
            advice(lang, kind), {"reused": first.reused, "reuse_required": True},
        )  # fmt: skip
    details.append(say(lang, "reuse_optional"))
    data = {"reused": first.reused, "reuse_required": False}
    if first.reused:
        return Stage("data_tls", "ok", say(lang, "data_tls_ok_summary"), details, data=data)
    kind = "tls_not_resumed"
    summary = say(lang, f"{kind}_summary")
    return Stage("data_tls", "warn", summary, details, kind, advice(lang, kind), data)
