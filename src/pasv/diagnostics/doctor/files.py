"""The file stages: listing the URL's directory, the --write round trip, a throughput sample."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

from pasv.client.listings import parse_listing
from pasv.client.trace import Kind
from pasv.diagnostics.doctor.data import step_detail, step_failure
from pasv.diagnostics.doctor.link import Link, Mode, Moved, StepFailed
from pasv.diagnostics.doctor.report import Stage, reply_advice
from pasv.diagnostics.doctor.target import DoctorTarget
from pasv.diagnostics.doctor.texts import advice, say
from pasv.diagnostics.knowledge import Lang
from pasv.protocol import paths
from pasv.protocol.listing import FileFacts

__all__ = ["Sample", "listing_stage", "throughput_stage", "write_stage"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed transfer for the throughput stage."""

    direction: str  # "up" or "down"
    nbytes: int
    seconds: float


def _sample(direction: str, moved: Moved) -> Sample:
    return Sample(direction, max(moved.sent, len(moved.received)), moved.seconds)


def _rate(nbytes: float, seconds: float) -> str:
    value = nbytes / max(seconds, 1e-6)
    for unit in ("B/s", "KiB/s", "MiB/s", "GiB/s"):
        if value < 1024 or unit == "GiB/s":
            return f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _quiet(kind: Kind, text: str) -> None:
    """Unreadable listing lines are not a verdict of their own."""


async def listing_stage(
    t: DoctorTarget, lang: Lang, link: Link, mode: Mode
) -> tuple[Stage, list[FileFacts]]:
    """The URL's directory, by MLSD when offered (else LIST), parsed as the client parses it."""
    mlsd = "MLST" in link.features
    command = f"{'MLSD' if mlsd else 'LIST'} {t.path}"
    try:
        moved = await link.transfer(await link.open(mode), command)
    except StepFailed as exc:
        return step_failure("listing", exc, lang), []
    entries = parse_listing(moved.received.decode("utf-8", "replace"), mlsd, _quiet)
    files = sum(1 for e in entries if e.kind == "file")
    summary = say(
        lang, "listing_ok", path=t.path, command=command.split()[0], entries=len(entries),
        files=files, dirs=sum(1 for e in entries if e.kind == "dir"),
    )  # fmt: skip
    return Stage("listing", "ok", summary, data={"entries": len(entries)}), entries


async def write_stage(
    t: DoctorTarget, lang: Lang, link: Link, mode: Mode
) -> tuple[Stage, list[Sample]]:
    """Upload a temporary file, download it, compare SHA-256, delete it."""
    name = paths.resolve(t.path, f".pasv-doctor-{secrets.token_hex(4)}.tmp")
    payload = os.urandom(t.sample_bytes)
    digest = hashlib.sha256(payload).hexdigest()
    details = [say(lang, "write_file", name=name, bytes=len(payload))]
    try:
        up = await link.transfer(await link.open(mode), f"STOR {name}", payload)
        details.append(say(lang, "write_up", rate=_rate(up.sent, up.seconds)))
        down = await link.transfer(await link.open(mode), f"RETR {name}")
        details.append(say(lang, "write_down", rate=_rate(len(down.received), down.seconds)))
    except StepFailed as exc:
        stage = step_failure("write", exc, lang)
        stage.details = details + stage.details
        await link.command(f"DELE {name}")
        return stage, []
    samples = [_sample("up", up), _sample("down", down)]
    got = hashlib.sha256(down.received).hexdigest()
    deleted = await link.command(f"DELE {name}")
    data = {"name": name, "bytes": len(payload), "sha256": digest, "deleted": deleted.code == 250}
    if got != digest:
        details.append(say(lang, "write_sha_differs", sent=digest, got=got))
        summary = say(lang, "write_mismatch_summary")
        mismatch = advice(lang, "write_mismatch")
        return Stage("write", "fail", summary, details, "write_mismatch", mismatch, data), samples
    details.append(say(lang, "write_sha_same", sha=digest))
    if deleted.code != 250:
        kind, found = reply_advice(deleted, lang, "write")
        summary = say(lang, "write_left_behind", name=name, reply=f"{deleted.code} {deleted.text}")
        return Stage("write", "warn", summary, details, kind, found, data), samples
    return Stage("write", "ok", say(lang, "write_ok", name=name), details, data=data), samples


async def throughput_stage(
    t: DoctorTarget, lang: Lang, link: Link, mode: Mode, samples: list[Sample],
    entries: list[FileFacts],
) -> Stage:  # fmt: skip
    """Transfer rates: the --write round trip's, else the tail of the largest file listed."""
    if not samples:
        files = [e for e in entries if e.kind == "file" and e.size > 0]
        if not files:
            return Stage("throughput", "skip", say(lang, "throughput_nothing"))
        biggest = max(files, key=lambda e: e.size)
        rest = max(0, biggest.size - t.sample_bytes) if "REST" in link.features else 0
        path = paths.resolve(t.path, biggest.name)
        try:
            moved = await link.transfer(await link.open(mode), f"RETR {path}", rest=rest)
        except StepFailed as exc:
            skipped = Stage("throughput", "skip", say(lang, "throughput_failed", path=path))
            skipped.details.append(step_detail(lang, exc))
            return skipped
        samples = [_sample("down", moved)]
    rates = {s.direction: s.nbytes / max(s.seconds, 1e-6) for s in samples}
    shown = [
        say(lang, f"throughput_{s.direction}", rate=_rate(s.nbytes, s.seconds), bytes=s.nbytes)
        for s in samples
    ]
    return Stage("throughput", "ok", " · ".join(shown), data={"bytes_per_second": rates})
