"""Run one measure over the servers in rotating rounds and keep the median round."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import measures, report
from bench.files import TRANSFERS, Sizes
from bench.servers import Server

Result = dict[str, Any]
SINGLE_ROUND = {"memory"}  # measured once, on a fresh heap


def run_one(console: Console, key: str, srv: Server, sizes: Sizes, tpl: Path) -> Result:
    """One call of one measure on one server; errors become a result, never an exception."""
    label, fn = measures.MEASURES[key]
    t0 = time.monotonic()
    try:
        r = fn(srv, sizes, str(tpl))
    except Exception as e:
        r = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc(limit=3)}
    if srv.proc is not None and srv.proc.poll() is not None:
        srv.status = "crashed"
        srv.reason = f"exited with {srv.proc.returncode} during {key}"
    cell = report.fmt(r)
    console.print(f"  {label:<28} {srv.name:<10} {cell}  [dim]({time.monotonic() - t0:.1f}s)[/dim]")
    return r


def combine(key: str, rounds: list[Result]) -> Result:
    """The median round's figures (the lower middle one of an even count); failures summed
    over all rounds; every round's value kept."""
    good = [r for r in rounds if "error" not in r]
    if not good:
        return rounds[-1]
    ordered = sorted(good, key=lambda r: float(r["value"]))
    out = dict(ordered[(len(ordered) - 1) // 2])
    if len(rounds) > 1:
        out["rounds"] = [r.get("value") for r in rounds]
    for total in ("failures", "syn_dropped"):  # every round counts, not only the best one
        if any(total in r for r in rounds):
            out[total] = sum(int(r.get(total, 0)) for r in good)
    errors = [e for r in rounds for e in ([r["error"]] if "error" in r else r.get("errors", []))]
    if errors:
        out["errors"] = errors[:8]
    return out


def measure_rounds(
    console: Console, key: str, ok: list[Server], sizes: Sizes, tpl: Path
) -> dict[str, Result]:
    """Rounds (`sizes.transfer_runs` for byte-moving measures, else `sizes.runs`), each visiting
    every server, the starting server rotating."""
    if not ok:
        return {}
    n = 1 if key in SINGLE_ROUND else sizes.transfer_runs if key in TRANSFERS else sizes.runs
    got: dict[str, list[Result]] = {s.name: [] for s in ok}
    for i in range(n):
        for srv in ok[i % len(ok) :] + ok[: i % len(ok)]:
            if srv.ok:
                got[srv.name].append(run_one(console, key, srv, sizes, tpl))
    return {name: combine(key, rs) for name, rs in got.items() if rs}


def retr_phase(
    console: Console,
    ok: list[Server],
    sizes: Sizes,
    tpl: Path,
    results: report.Results,
    raw_runs: list[float],
    cpu: int | None,
) -> float:
    """RETR rounds interleaved with raw-limit rounds, so both see the same machine state; with
    `cpu`, all on that one CPU (see bench/placement.py)."""
    t0 = time.monotonic()
    raws, by_server = measures.retr_rounds(ok, sizes, str(tpl), raw=True, cpu=cpu)
    raw = max(raws)
    results["retr"] = by_server
    raw_runs[:] = raws
    dt = time.monotonic() - t0
    console.print(f"  {'raw limit':<28} {'':<10} {raw / 1e6:,.1f} MB/s")
    for name, r in by_server.items():
        console.print(
            f"  {'RETR big file':<28} {name:<10} {report.fmt(r)}  [dim]({dt:.1f}s all)[/dim]"
        )
    return raw
