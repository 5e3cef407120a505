"""1,000 concurrent downloads on every server: failures, GB/s, the client processes' CPU."""

from __future__ import annotations

import os
from typing import Any

from bench import parallel
from bench.files import CONC
from bench.measures import listen_drops
from bench.servers import HOST, Server, tree_cpu

Result = dict[str, Any]
FORKING = frozenset({"vsftpd", "proftpd", "pure-ftpd"})  # session processes exit before we look


def download_round(srv: Server, clients: int, procs: int, size: int) -> Result:
    """``clients`` downloads of the ``size``-byte file at once, from ``procs`` processes."""
    assert srv.proc is not None
    args = (HOST, srv.port, srv.user, srv.password, CONC, size)
    drops, cpu0, load = listen_drops(), tree_cpu(srv.proc.pid), os.getloadavg()[0]
    r = parallel.run("download", args, clients, procs, timeout=180 + clients * size / 20e6)
    if "seconds" not in r:
        return {"error": r["errors"], "failures": clients}
    server_cpu = tree_cpu(srv.proc.pid) - cpu0
    return {
        # from the first start to the end of the last download that succeeded: a failed one
        # waits out its timeout, which is not time spent moving bytes
        "gb_per_second": r["bytes"] / r["ok_seconds"] / 1e9 if r["ok_seconds"] else 0.0,
        "gb_per_second_all": r["bytes"] / r["seconds"] / 1e9,
        "seconds": r["seconds"],
        "ok_seconds": r["ok_seconds"],
        "failures": r["failures"],
        "errors": r["errors"],
        "syn_dropped": listen_drops() - drops,
        "server_cpu_seconds": None if srv.name in FORKING else server_cpu,
        "client_cpu_share_per_process": [c / r["seconds"] for c in r["client_cpu_per_process"]],
        "load_1min": load,
    }


def download_curve(
    servers: list[Server], clients: int, procs: int, size: int, runs: int
) -> dict[str, Result]:
    """``runs`` rounds, the servers' order rotating every round; the median GB/s of each."""
    rounds: dict[str, list[Result]] = {s.name: [] for s in servers}
    for i in range(runs):
        for srv in servers[i % len(servers) :] + servers[: i % len(servers)]:
            r = download_round(srv, clients, procs, size)
            rounds[srv.name].append(r)
            if "error" in r:
                print(f"  download {srv.name:<10} round {i + 1}: {r['error']}")
                continue
            busiest = max(r["client_cpu_share_per_process"])
            cpu = r["server_cpu_seconds"]
            print(
                f"  download {srv.name:<10} {clients:,} at once: {r['gb_per_second']:.2f} GB/s, "
                f"({r['ok_seconds']:.1f}s), {r['failures']} failures, "
                f"{r['syn_dropped']} SYN drops, server CPU "
                f"{'-' if cpu is None else f'{cpu:.1f}s'}, busiest client process "
                f"{busiest:.0%} of a CPU (load {r['load_1min']:.1f})"
            )
    out: dict[str, Result] = {}
    for name, rs in rounds.items():
        ok = sorted(r["gb_per_second"] for r in rs if "error" not in r)
        fails = sum(r["failures"] for r in rs)
        out[name] = {"gb_per_second": ok[(len(ok) - 1) // 2] if ok else 0.0,
                     "failures": fails, "rounds": rs}  # fmt: skip
    return out
