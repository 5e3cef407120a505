"""The stages before any data moves: DNS, TCP, the greeting and TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import time

from pasv.client.control import ControlConnection
from pasv.client.errors import ConnectionFailed, ReplyTimeout
from pasv.diagnostics.classify import Diagnosis, classify_os_error
from pasv.diagnostics.doctor.certificate import read_certificate
from pasv.diagnostics.doctor.probe import Probe
from pasv.diagnostics.doctor.reasons import control_lost, reason
from pasv.diagnostics.doctor.report import Stage, Status, reply_advice
from pasv.diagnostics.doctor.target import DoctorTarget
from pasv.diagnostics.doctor.texts import advice, say
from pasv.diagnostics.knowledge import Lang

__all__ = ["banner_stage", "dns_stage", "explicit_tls_stage", "implicit_tls_stage", "tcp_stage"]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
EXPIRY_WARNING_DAYS = 14


def _os_stage(key: str, summary: str, exc: OSError, lang: Lang) -> Stage:
    found = classify_os_error(exc, key) or Diagnosis("connection_refused")
    return Stage(key, "fail", summary, kind=found.kind, advice=found.advice(lang))


async def dns_stage(t: DoctorTarget, lang: Lang) -> tuple[Stage, list[str]]:
    """The addresses the host name stands for (an address stands for itself)."""
    try:
        ipaddress.ip_address(t.host)
    except ValueError:
        pass
    else:
        return Stage("dns", "ok", say(lang, "dns_literal", host=t.host)), [t.host]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(t.timeout):
            infos = await loop.getaddrinfo(t.host, t.port, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError) as exc:
        summary = say(lang, "dns_failed", host=t.host, reason=reason(lang, exc))
        failed = socket.gaierror() if isinstance(exc, TimeoutError) else exc
        return _os_stage("dns", summary, failed, lang), []
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    summary = say(lang, "dns_ok", host=t.host, addresses=", ".join(addresses))
    return Stage("dns", "ok", summary, data={"addresses": addresses}), addresses


async def tcp_stage(
    t: DoctorTarget, lang: Lang, addresses: list[str], probe: Probe
) -> tuple[Stage, Streams | None]:
    """Connect to each address in turn, as a client would; the first that answers is used."""
    details: list[str] = []
    last: OSError = ConnectionRefusedError()
    for address in addresses:
        probe.connections += 1
        started = time.perf_counter()
        try:
            async with asyncio.timeout(t.timeout):
                streams = await asyncio.open_connection(address, t.port)
        except TimeoutError as exc:
            last = exc
            details.append(say(lang, "tcp_timeout", address=address, port=t.port, s=t.timeout))
            continue
        except OSError as exc:
            last = exc
            why = reason(lang, exc)
            details.append(say(lang, "tcp_error", address=address, port=t.port, reason=why))
            continue
        ms = (time.perf_counter() - started) * 1000
        summary = say(lang, "tcp_ok", address=address, port=t.port, ms=f"{ms:.1f}")
        return Stage("tcp", "ok", summary, details, data={"address": address, "ms": ms}), streams
    summary = say(lang, "tcp_failed", host=t.host, port=t.port)
    stage = _os_stage("tcp", summary, last, lang)
    stage.details = details
    return stage, None


def _tls_failure(t: DoctorTarget, lang: Lang, exc: BaseException) -> Stage:
    why = reason(lang, exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        summary = say(lang, "tls_untrusted", reason=why)
        return Stage(
            "tls", "fail", summary, kind="certificate_untrusted",
            advice=advice(lang, "certificate_untrusted", host=t.host, reason=why),
        )  # fmt: skip
    kind = "tls_handshake_failed"
    if t.tls == "implicit" and "WRONG_VERSION_NUMBER" in str(exc).upper():
        kind = "implicit_on_plain_port"
    summary = say(lang, "tls_failed", reason=why)
    return Stage("tls", "fail", summary, kind=kind, advice=advice(lang, kind, port=t.port))


async def _handshake(t: DoctorTarget, lang: Lang, writer: asyncio.StreamWriter) -> Stage:
    assert t.ssl_context is not None
    try:
        async with asyncio.timeout(t.timeout):
            await writer.start_tls(t.ssl_context, server_hostname=t.host)
    except (OSError, TimeoutError) as exc:
        return _tls_failure(t, lang, exc)
    tls = writer.get_extra_info("ssl_object")
    assert isinstance(tls, ssl.SSLObject)
    cipher = tls.cipher()
    details = [say(lang, "tls_version", version=tls.version(), cipher=cipher[0] if cipher else "?")]
    data: dict[str, object] = {"version": tls.version(), "mode": t.tls}
    der = tls.getpeercert(binary_form=True)
    kind: str | None = None
    if der is not None:
        facts = read_certificate(der)
        days = facts.days_left(datetime.datetime.now(datetime.UTC))
        names = ", ".join(facts.names) or "-"
        details.append(
            say(lang, "tls_certificate", subject=facts.subject, issuer=facts.issuer, names=names)
        )
        details.append(say(lang, "tls_expiry", date=f"{facts.not_after:%Y-%m-%d}", days=days))
        data.update(subject=facts.subject, issuer=facts.issuer, names=list(facts.names))
        data.update(not_after=facts.not_after.isoformat(), days_left=days)
        kind = _certificate_problem(days, t.verify)
        if facts.self_signed:
            details.append(say(lang, "tls_self_signed"))
    summary = say(lang, f"tls_{t.tls}_ok", version=tls.version())
    if kind is None:
        return Stage("tls", "ok", summary, details, data=data)
    status: Status = "fail" if kind == "certificate_expired" else "warn"
    return Stage("tls", status, summary, details, kind, advice(lang, kind, host=t.host), data)


def _certificate_problem(days_left: int, verified: bool) -> str | None:
    if days_left < 0:
        return "certificate_expired"
    if days_left < EXPIRY_WARNING_DAYS:
        return "certificate_expiring"
    return None if verified else "certificate_unverified"


async def implicit_tls_stage(t: DoctorTarget, lang: Lang, writer: asyncio.StreamWriter) -> Stage:
    """ftps://: TLS from the first byte."""
    return await _handshake(t, lang, writer)


async def explicit_tls_stage(
    t: DoctorTarget, lang: Lang, ctrl: ControlConnection, writer: asyncio.StreamWriter
) -> Stage:
    """--tls: AUTH TLS, then the handshake on the control connection."""
    try:
        reply = await ctrl.command("AUTH TLS")
    except ConnectionFailed as exc:
        summary = control_lost(lang, exc)
        found = Diagnosis("disconnected_at_connect")
        return Stage("tls", "fail", summary, kind=found.kind, advice=found.advice(lang))
    if reply.code != 234:
        summary = say(lang, "tls_not_offered", reply=f"{reply.code} {reply.text}")
        return Stage(
            "tls", "fail", summary, kind="tls_not_offered",
            advice=advice(lang, "tls_not_offered", port=t.port),
        )  # fmt: skip
    return await _handshake(t, lang, writer)


async def banner_stage(t: DoctorTarget, lang: Lang, ctrl: ControlConnection) -> Stage:
    """The greeting: 220, or a refusal that says why (banned, too many users, IP denied)."""
    delayed = ""  # a 120 ("Service ready in nnn minutes") before the greeting
    try:
        reply = await ctrl.reply()
        while reply.code == 120:
            delayed = f"{reply.code} {reply.text}"
            reply = await ctrl.reply()
    except ConnectionFailed as exc:
        if delayed:  # not silence, nor an implicit-TLS port: the server said it is not ready
            summary = say(lang, "banner_delayed", reply=delayed, s=t.timeout)
            wait = advice(lang, "service_delayed", reply=delayed)
            return Stage("banner", "fail", summary, kind="service_delayed", advice=wait,
                         data={"reply": delayed})  # fmt: skip
        if isinstance(exc, ReplyTimeout):
            summary = say(lang, "banner_silent", s=t.timeout)
            kind = "implicit_expected" if t.tls != "implicit" else "not_ftp"
            return Stage("banner", "fail", summary, kind=kind, advice=advice(lang, kind))
        closed = Diagnosis("disconnected_at_connect")
        summary = say(lang, "banner_closed")
        return Stage("banner", "fail", summary, kind=closed.kind, advice=closed.advice(lang))
    line = f"{reply.code} {reply.text}"
    if reply.code == 220:
        return Stage("banner", "ok", say(lang, "banner_ok", reply=line), data={"reply": line})
    known, found = reply_advice(reply, lang, "banner")
    summary = say(lang, "banner_refused", reply=line)
    return Stage("banner", "fail", summary, kind=known, advice=found, data={"reply": line})
