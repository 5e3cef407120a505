"""Run the stages in order; a stage that fails stops the ones that depend on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from pasv.client.control import ControlConnection
from pasv.client.errors import FtpClientError
from pasv.diagnostics.doctor.connection import (
    banner_stage,
    dns_stage,
    explicit_tls_stage,
    implicit_tls_stage,
    tcp_stage,
)
from pasv.diagnostics.doctor.data import active_stage, epsv_stage, pasv_stage, reuse_stage
from pasv.diagnostics.doctor.files import Sample, listing_stage, throughput_stage, write_stage
from pasv.diagnostics.doctor.link import Link, Mode, Moved
from pasv.diagnostics.doctor.login import login_stage
from pasv.diagnostics.doctor.probe import Probe
from pasv.diagnostics.doctor.reasons import control_lost
from pasv.diagnostics.doctor.report import LIMIT_KINDS, Report, Stage
from pasv.diagnostics.doctor.setup import setup_stage
from pasv.diagnostics.doctor.target import DoctorTarget
from pasv.diagnostics.doctor.texts import say
from pasv.diagnostics.doctor.vhost import host_stage
from pasv.diagnostics.knowledge import Lang

__all__ = ["run_doctor"]


async def _connected(t: DoctorTarget, lang: Lang, report: Report, probe: Probe) -> Link | None:
    """DNS, TCP, TLS and the greeting; the logged-out link when all of them passed."""
    add = report.stages.append
    stage, addresses = await dns_stage(t, lang)
    add(stage)
    if not addresses:
        return None
    stage, streams = await tcp_stage(t, lang, addresses, probe)
    add(stage)
    if streams is None:
        return None
    reader, writer = streams
    ctrl = ControlConnection(reader, writer, timeout=t.timeout, trace=t.trace)
    link = Link(ctrl, t.host, t.ssl_context, t.timeout)
    steps: list[Callable[[], Awaitable[Stage]]] = [lambda: banner_stage(t, lang, ctrl)]
    if t.tls == "implicit":
        steps.insert(0, lambda: implicit_tls_stage(t, lang, writer))
    elif t.tls == "explicit":
        steps.append(lambda: explicit_tls_stage(t, lang, ctrl, writer))
    for step in steps:
        stage = await step()
        add(stage)
        if stage.status == "fail":
            await ctrl.close()
            return None
    if t.tls == "none":
        add(Stage("tls", "skip", say(lang, "tls_not_asked")))
    named = await host_stage(t, lang, link)
    if named is not None:
        add(named)
        if named.status == "fail":
            await ctrl.close()
            return None
    return link


def _limited(report: Report) -> bool:
    """The last stage met a ban or a connection limit: nothing more may be tried."""
    last = report.stages[-1] if report.stages else None
    return last is not None and last.status == "fail" and last.kind in LIMIT_KINDS


async def _modes(
    t: DoctorTarget, lang: Lang, report: Report, link: Link
) -> list[tuple[Mode, Moved]]:
    """The data channel in each requested mode, passive (EPSV, then PASV) before active;
    nothing more after a reply that names a limit."""
    steps: list[tuple[Mode, Callable[[], Awaitable[tuple[Stage, Moved | None]]]]] = []
    moved_by: dict[Mode, Moved] = {}
    if "passive" in t.modes:
        steps.append(("epsv", lambda: epsv_stage(link, lang)))
        steps.append(("pasv", lambda: pasv_stage(link, lang, "epsv" in moved_by)))
    else:
        report.stages += [Stage(key, "skip", say(lang, "mode_not_asked", mode="--active"))
                          for key in ("epsv", "pasv")]  # fmt: skip
    if "active" in t.modes:
        steps.append(("active", lambda: active_stage(link, lang)))
    else:
        report.stages.append(Stage("port", "skip", say(lang, "mode_not_asked", mode="--passive")))
    for mode, step in steps:
        stage, moved = await step()
        report.stages.append(stage)
        if _limited(report):
            return []
        if moved is not None:
            moved_by[mode] = moved
    return list(moved_by.items())


async def _data(t: DoctorTarget, lang: Lang, report: Report, link: Link) -> None:
    """The data channel in each mode, then listing, --write and throughput in one that works."""
    add = report.stages.append
    working = await _modes(t, lang, report, link)
    if _limited(report):
        return
    if not working:
        add(Stage("listing", "skip", say(lang, "no_data_channel")))
        return
    mode, first = working[0]
    if link.prot_p:
        add(await reuse_stage(link, lang, mode, first))
    stage, entries = await listing_stage(t, lang, link, mode)
    add(stage)
    samples: list[Sample] = []
    if t.write:
        stage, samples = await write_stage(t, lang, link, mode)
        add(stage)
    else:
        add(Stage("write", "skip", say(lang, "write_not_asked")))
    add(await throughput_stage(t, lang, link, mode, samples, entries))


def _stop_at_limit(lang: Lang, report: Report, probe: Probe) -> None:
    """After a ban or limit reply, say that the doctor stopped there and what it had done."""
    limited = next((s for s in report.stages if s.status == "fail" and s.kind in LIMIT_KINDS), None)
    if limited is not None:
        probe.stopped_at = limited.kind
        title = limited.advice.title if limited.advice is not None else limited.kind
        summary = say(lang, "stopped_at_limit", title=title, connections=probe.connections,
                      failed=probe.failed_logins)  # fmt: skip
        report.stages.append(Stage("stopped", "skip", summary, kind=limited.kind))
    report.probe = probe.as_dict()


async def run_doctor(t: DoctorTarget, lang: Lang) -> Report:
    """Every stage that can run against ``t``, with verdicts and advice in ``lang``."""
    report = Report(t.display or f"{t.host}:{t.port}", lang)
    probe = Probe()
    try:
        await _run(t, lang, report, probe)
    finally:
        _stop_at_limit(lang, report, probe)
    return report


async def _run(t: DoctorTarget, lang: Lang, report: Report, probe: Probe) -> None:
    link = await _connected(t, lang, report, probe)
    if link is None:
        return
    try:
        login = await login_stage(t, lang, link, probe)
        report.stages.append(login)
        if login.status != "fail":
            report.stages.append(await setup_stage(link, lang))
            await _data(t, lang, report, link)
    except FtpClientError as exc:  # the server hung up in the middle of a stage
        report.stages.append(Stage("control", "fail", control_lost(lang, exc)))
    finally:
        with contextlib.suppress(FtpClientError, OSError):
            async with asyncio.timeout(2):
                await link.ctrl.send("QUIT")
                await link.ctrl.reply()
        await link.ctrl.close()
