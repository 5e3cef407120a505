"""The results table, the targets and the JSON dump."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SERVERS = ("pasv", "pyftpdlib", "vsftpd", "proftpd", "pure-ftpd", "pasv-policy")
PEERS = ("pyftpdlib", "vsftpd", "proftpd", "pure-ftpd")  # pasv's ratios are to the best of these
LOWER_IS_BETTER = frozenset({"memory", "small_cpu", "small20_cpu", "concurrent_cpu"})
Results = dict[str, dict[str, dict[str, Any]]]


def best_peer(results: Results, measure: str) -> tuple[str, float] | None:
    """The peer with the best figure on this row of this run (highest, or lowest for costs)."""
    got = [(p, v) for p in PEERS if (v := _value(results, measure, p)) is not None and v > 0]
    if not got:
        return None
    pick = min if measure in LOWER_IS_BETTER else max
    return pick(got, key=lambda item: item[1])


def peer_ratio(results: Results, measure: str, server: str = "pasv") -> float | None:
    """``server`` / the best peer, oriented so that above 1 means ahead of it."""
    mine, best = _value(results, measure, server), best_peer(results, measure)
    if mine is None or best is None or mine <= 0:
        return None
    return best[1] / mine if measure in LOWER_IS_BETTER else mine / best[1]


def derive(results: Results) -> None:
    """Rows computed from others: the server CPU per small RETR (from the small-file rows) and
    per GiB of the concurrent downloads."""
    for source, row in (("small", "small_cpu"), ("small20", "small20_cpu")):
        cpu = {
            name: {"value": r["server_cpu_us"], "unit": "us", "client_cpu_us": r["client_cpu_us"]}
            for name, r in results.get(source, {}).items()
            if "error" not in r and r.get("server_cpu_us")
        }
        if cpu:
            results[row] = cpu
    per_gib = {
        name: {
            "value": r["server_cpu_s_per_gib"],
            "unit": "s/GiB",
            "client": r["client_cpu_s_per_gib"],
        }
        for name, r in results.get("concurrent", {}).items()
        if "error" not in r and r.get("server_cpu_s_per_gib") and not r.get("failures")
    }
    if per_gib:
        results["concurrent_cpu"] = per_gib


def _value(results: Results, measure: str, server: str) -> float | None:
    r = results.get(measure, {}).get(server)
    if not r or "error" in r:
        return None
    return float(r["value"])


def fmt(r: dict[str, Any] | None) -> str:
    """One cell: the figure in readable units, failures when any."""
    if r is None:
        return "-"
    if "error" in r:
        return "[red]error[/red]"
    v, unit = float(r["value"]), r.get("unit", "")
    text = {
        "B/s": f"{v / 1e6:,.1f} MB/s",
        "/s": f"{v:,.1f}/s",
        "KiB": f"{v:,.2f} KiB",
        "us": f"{v:,.0f} µs",
        "s/GiB": f"{v:,.2f} s/GiB",
    }[unit]
    pss = r.get("pss_per_session_kib")
    if pss is not None and abs(pss - v) > 0.1 * max(abs(v), 1.0):
        text += f" (PSS {pss:,.2f})"
    if r.get("failures"):
        text += f" [red]({r['failures']} failed)[/red]"
    if r.get("syn_dropped"):
        text += f" [red]({r['syn_dropped']} SYN dropped)[/red]"
    return text


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


Check = Callable[[Results, float | None], tuple[bool, str] | None]


def _vs_best(measure: str, factor: float = 1.0, zero_fail: bool = False) -> Check:
    def check(results: Results, raw: float | None) -> tuple[bool, str] | None:
        ratio_, best = peer_ratio(results, measure), best_peer(results, measure)
        if ratio_ is None or best is None:
            return None
        fails = results[measure]["pasv"].get("failures", 0)
        drops = results[measure]["pasv"].get("syn_dropped", 0)
        met = ratio_ >= factor and (not zero_fail or (fails == 0 and drops == 0))
        detail = f", {fails} failed, {drops} SYN dropped" if zero_fail else ""
        return met, f"{ratio_:.3f}× {best[0]}{detail}"

    return check


def _retr_raw(results: Results, raw: float | None) -> tuple[bool, str] | None:
    mine = _value(results, "retr", "pasv")
    if mine is None or not raw:
        return None
    return mine / raw >= 0.9, f"{mine / raw:.3f} of raw"


def _mem(results: Results, raw: float | None) -> tuple[bool, str] | None:
    mine = _value(results, "memory", "pasv")
    return None if mine is None else (mine <= 1.0, f"{mine:.2f} KiB")


def _cpu(row: str) -> Check:
    def check(results: Results, raw: float | None) -> tuple[bool, str] | None:
        mine = _value(results, row, "pasv")
        return None if mine is None else (mine <= 110.0, f"{mine:.0f} µs")

    return check


def _policy_cost(measure: str) -> Check:
    def check(results: Results, raw: float | None) -> tuple[bool, str] | None:
        plain, loaded = _value(results, measure, "pasv"), _value(results, measure, "pasv-policy")
        if plain is None or loaded is None:
            return None
        return loaded >= 0.95 * plain, f"{loaded / plain:.3f}× pasv without policy"

    return check


TARGETS: list[tuple[str, str, Check]] = [
    ("retr", "RETR >= best peer", _vs_best("retr")),
    ("retr", "RETR >= 0.9 × raw limit", _retr_raw),
    ("stor", "STOR >= 1.1 × best peer", _vs_best("stor", 1.1)),
    (
        "concurrent",
        "concurrent >= best peer, 0 failures, 0 SYN dropped",
        _vs_best("concurrent", 1.0, True),
    ),
    ("logins", "logins/s >= best peer", _vs_best("logins")),
    ("small", "small RETR/s >= best peer", _vs_best("small")),
    ("small_cpu", "server CPU per small RETR <= 110 µs", _cpu("small_cpu")),
    ("small20", "small RETR/s, 20 sessions >= best peer", _vs_best("small20")),
    ("small20_cpu", "server CPU per small RETR, 20 sessions <= 110 µs", _cpu("small20_cpu")),
    ("list", "LIST/s >= best peer", _vs_best("list")),
    ("memory", "memory per idle session <= 1 KiB", _mem),
    ("tls_retr", "FTPS RETR >= best peer", _vs_best("tls_retr")),
    ("tls_stor", "FTPS STOR >= best peer", _vs_best("tls_stor")),
    ("logins", "with 50 rules: logins/s within 5% of no policy", _policy_cost("logins")),
    ("small", "with 50 rules: small RETR/s within 5% of no policy", _policy_cost("small")),
]


def evaluate(results: Results, raw: float | None) -> list[dict[str, Any]]:
    out = []
    for measure, text, check in TARGETS:
        got = check(results, raw) if measure in results else None
        status = "n/a" if got is None else ("met" if got[0] else "NOT met")
        out.append({"measure": measure, "target": text, "status": status, "detail": got and got[1]})
    return out


def render(
    console: Console,
    labels: dict[str, str],
    results: Results,
    raw: float | None,
    servers: dict[str, dict[str, Any]],
    targets: list[dict[str, Any]],
) -> None:
    """Print server status, the figures with ratios, and the targets."""
    st = Table(title="servers")
    for col in ("server", "status", "port", "passive", "reason"):
        st.add_column(col)
    for name, info in servers.items():
        color = "green" if info["status"] == "ok" else "red"
        st.add_row(name, f"[{color}]{info['status']}[/{color}]", str(info.get("port", "")),
                   str(info.get("passive_ports", "")), str(info.get("reason", "")))  # fmt: skip
    console.print(st)
    caption = f"raw limit (sendfile -> recv_into, best run): {raw / 1e6:,.1f} MB/s" if raw else None
    t = Table(
        title="results (all on 127.0.0.1; median of interleaved rounds; ratio > 1: pasv ahead)",
        caption=caption,
    )
    for col in ("measure", "pasv / best peer", "best peer", *SERVERS, "policy/pasv"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    for measure, rows in results.items():
        v = [_value(results, measure, s) for s in SERVERS]
        r, best = peer_ratio(results, measure), best_peer(results, measure)
        shown = "-" if r is None else f"[{'green' if r >= 1 else 'red'}]{r:.2f}[/]"
        t.add_row(
            labels.get(measure, measure),
            shown,
            best[0] if best else "-",
            *[fmt(rows.get(s)) for s in SERVERS],
            ratio(v[-1], v[0]),
        )
        if measure == "retr" and raw:
            t.add_row("  RETR / raw limit", "", "", *[ratio(x, raw) for x in v], "")
    console.print(t)
    tt = Table(title="targets (pasv)")
    for col in ("target", "status", "detail"):
        tt.add_column(col)
    for tg in targets:
        color = {"met": "green", "NOT met": "red"}.get(tg["status"], "yellow")
        tt.add_row(tg["target"], f"[{color}]{tg['status']}[/{color}]", tg["detail"] or "")
    console.print(tt)
    for measure, rows in results.items():
        for server, r in rows.items():
            if "error" in r or r.get("errors"):
                console.print(
                    f"[yellow]{measure} / {server}:[/yellow] {r.get('error') or r['errors']}"
                )


def write_json(path: str, payload: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")
