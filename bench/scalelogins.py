"""Logins/s against a pasv store of 100,000 accounts, beside the same loop on a store of ~10.

The accounts are inserted in one transaction through the store's own connection
(``SqliteAccountStore.run``), with the INSERT ``SqlAccountStore.add`` makes; every account gets
the bench user's argon2id hash, made by ``pasv user add`` with the server's parameters. An argon2
hash string carries its own salt and parameters, so each verification costs what it would with a
hash of its own; the repeat-login cache is keyed by name and password, so sharing a hash gives no
account a hit it has not earned.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench import parallel
from bench.servers import HOST, PASSWORD, USER, Server, tree_cpu

Result = dict[str, Any]
MAX_ITER = 1_000_000
INSERT = (
    "INSERT INTO users (name, password_hash, home, perms, enabled, created)"
    " VALUES (?, ?, ?, ?, 1, ?)"
)


def account(i: int) -> str:
    return f"u{i:06d}"


def add_accounts(data: Path, count: int) -> None:
    """``count`` accounts u000000… in the store of the data dir ``data``, all with the bench
    user's password (its hash, home and permissions)."""
    from pasv.accounts.sqlite import SqliteAccountStore

    store = SqliteAccountStore(data / "accounts.sqlite3")

    def work(tx: Any) -> None:
        row = tx.execute(
            "SELECT password_hash, home, perms FROM users WHERE name = ?", (USER,)
        ).fetchone()
        now = time.time()
        tx.executemany(INSERT, ((account(i), *row, now) for i in range(count)))

    t0 = time.perf_counter()
    store.run(work)
    asyncio.run(store.close())
    print(f"  logins  {count:,} accounts inserted in {time.perf_counter() - t0:.1f}s")


def spread(count: int, n: int = 10) -> list[str]:
    """``n`` account names spread over a store of ``count`` (first, middle, last …)."""
    return [account(i * count // n + (count // n) // 2) for i in range(n)]


def _one_login(srv: Server, name: str) -> None:
    r = parallel.login_loop(HOST, srv.port, name, PASSWORD, 30.0, 1)
    if r["failures"]:
        raise RuntimeError(f"{srv.name}: login as {name} failed: {r['errors']}")


def first_logins(srv: Server, names: list[str]) -> Result:
    """One login of each name, each the first since the server started (argon2 verifies it)."""
    assert srv.proc is not None
    times = []
    cpu0, me0 = tree_cpu(srv.proc.pid), time.process_time()
    for name in names:
        t0 = time.perf_counter()
        _one_login(srv, name)
        times.append(time.perf_counter() - t0)
    n = len(names)
    return {
        "logins": n,
        "ms_median": sorted(times)[(n - 1) // 2] * 1000,
        "ms_each": [t * 1000 for t in times],
        "server_cpu_ms_per_login": (tree_cpu(srv.proc.pid) - cpu0) * 1000 / n,
        "client_cpu_ms_per_login": (time.process_time() - me0) * 1000 / n,
    }


def login_round(srv: Server, names: list[str], loops: int, seconds: float) -> Result:
    """``loops`` login loops in as many processes, each cycling through ``names``."""
    assert srv.proc is not None
    cpu0, load = tree_cpu(srv.proc.pid), os.getloadavg()[0]
    args = (HOST, srv.port, ",".join(names), PASSWORD, seconds, MAX_ITER)
    r = parallel.run("rotation", args, loops, procs=loops, timeout=seconds + 120)
    if "seconds" not in r:
        return {"error": r["errors"]}
    server_cpu = tree_cpu(srv.proc.pid) - cpu0
    count = max(1, r["count"])
    return {
        "logins_per_second": r["count"] / r["seconds"],
        "logins": r["count"],
        "failures": r["failures"],
        "errors": r["errors"],
        "server_cpu_us_per_login": server_cpu * 1e6 / count,
        "server_cpu_share": server_cpu / r["seconds"],
        "client_cpu_share_per_process": [c / r["seconds"] for c in r["client_cpu_per_process"]],
        "load_1min": load,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[(len(values) - 1) // 2] if values else 0.0


def login_curve(
    stores: dict[int, Server], loops: int, seconds: float, runs: int
) -> dict[str, Result]:
    """For each store (accounts -> server): first logins of 10 accounts spread over it, then
    an untimed round, then ``runs`` interleaved rounds of repeat logins of those 10 (each
    worker has verified each once and answers the repeats from its cache)."""
    out: dict[str, Result] = {}
    names = {count: spread(count) for count in stores}
    for count, srv in stores.items():
        first = first_logins(srv, names[count])
        out[str(count)] = {"first": first, "rounds": []}
        print(f"  logins  {count:>7,} accounts: first login {first['ms_median']:.0f} ms "
              f"(server CPU {first['server_cpu_ms_per_login']:.0f} ms each)")  # fmt: skip
    order = list(stores)
    for count in order:  # untimed: every worker verifies each name once and caches it
        out[str(count)]["warmup"] = login_round(stores[count], names[count], loops, seconds)
    for i in range(runs):
        for count in order[i % len(order) :] + order[: i % len(order)]:
            out[str(count)]["rounds"].append(login_round(stores[count], names[count], loops,
                                                         seconds))  # fmt: skip
    big = max(order)
    if big > 1000:  # every login a user not seen since the server started: argon2 each time
        seen = set(names[big])
        fresh = [n for n in (account(i) for i in range(0, big, 7)) if n not in seen]
        r = login_round(stores[big], fresh, loops, seconds)
        out[str(big)]["distinct"] = r
        print(f"  logins  {big:>7,} accounts, {loops} loops, each login a different account: "
              f"{r.get('logins_per_second', 0):,.1f}/s, server "
              f"{r.get('server_cpu_us_per_login', 0) / 1000:,.0f} ms CPU each")  # fmt: skip
    for count in order:
        rounds = [r for r in out[str(count)]["rounds"] if "error" not in r]
        rate = _median([r["logins_per_second"] for r in rounds])
        cpu = _median([r["server_cpu_us_per_login"] for r in rounds])
        client = max((max(r["client_cpu_share_per_process"]) for r in rounds), default=0.0)
        fails = sum(r["failures"] for r in rounds)
        out[str(count)] |= {"logins_per_second": rate, "server_cpu_us_per_login": cpu}
        print(f"  logins  {count:>7,} accounts, {loops} loops over 10 of them: {rate:,.0f}/s, "
              f"server {cpu:,.0f} µs CPU each, busiest client process {client:.0%} of a CPU, "
              f"{fails} failures")  # fmt: skip
    return out
