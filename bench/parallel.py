"""Client load spread over a few processes, so the client side is not the limit."""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import aiodownload
from bench.ftpclient import FtpClient

Result = dict[str, Any]


def login_loop(host: str, port: int, user: str, pw: str, seconds: float, cap: int) -> Result:
    """Sequential connect + USER + PASS + QUIT until the time or count bound."""
    start = time.monotonic()
    deadline = start + seconds
    out: Result = {"start": start, "bytes": 0, "count": 0, "failures": 0, "errors": []}
    while out["count"] + out["failures"] < cap and time.monotonic() < deadline:
        try:
            c = FtpClient(host, port, timeout=10)
            try:
                c.banner()
                code, _ = c.cmd(f"USER {user}", (230, 331))
                if code == 331:
                    c.cmd(f"PASS {pw}", (230,))
                c.cmd("QUIT", (221,))
            finally:
                c.close()
            out["count"] += 1
        except Exception as e:
            out["failures"] += 1
            if len(out["errors"]) < 3:
                out["errors"].append(f"{type(e).__name__}: {e}")
    out["end"] = time.monotonic()
    return out


def rotation_loop(host: str, port: int, users: str, pw: str, seconds: float, cap: int) -> Result:
    """The login loop, each login as the next of the comma-separated ``users`` in turn, from a
    random place in the list (loops in parallel do not log in as the same user at once)."""
    names = users.split(",")
    first = random.randrange(len(names))
    start = time.monotonic()
    deadline = start + seconds
    out: Result = {"start": start, "bytes": 0, "count": 0, "failures": 0, "errors": []}
    while out["count"] + out["failures"] < cap and time.monotonic() < deadline:
        one = login_loop(host, port, names[(first + out["count"]) % len(names)], pw, seconds, 1)
        for key in ("count", "failures"):
            out[key] += one[key]
        out["errors"] = (out["errors"] + one["errors"])[:3]
    out["end"] = time.monotonic()
    return out


TASKS: dict[str, Callable[..., Result]] = {"logins": login_loop, "rotation": rotation_loop}


def _proc_main(
    kind: str, args: tuple[Any, ...], threads: int, start_at: float
) -> tuple[list[Result], float]:
    """One process's share, and the CPU seconds the process used on it: downloads on one event
    loop, other tasks one per thread."""
    cpu0 = time.process_time()
    if kind == "download":
        return aiodownload.run_downloads(args, threads, start_at), time.process_time() - cpu0
    results: list[Result] = [{} for _ in range(threads)]

    def run(i: int) -> None:
        results[i] = TASKS[kind](*args)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    time.sleep(max(0.0, start_at - time.monotonic()))
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results, time.process_time() - cpu0


def run(kind: str, args: tuple[Any, ...], total: int, procs: int, timeout: float) -> Result:
    """Run `total` tasks in `procs` processes; aggregate counts, bytes and the wall time, and
    the client processes' CPU seconds (each and the sum)."""
    procs = max(1, min(procs, total))
    per = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(time.sleep, [0.0] * procs)  # every worker is up and imported
        start_at = time.monotonic() + 0.2
        jobs = [(kind, args, n, start_at) for n in per]
        try:
            batches = pool.starmap_async(_proc_main, jobs).get(timeout=timeout)
        except mp.TimeoutError:
            pool.terminate()
            return {"value": 0.0, "failures": total, "errors": [f"timed out after {timeout}s"]}
    rows = [r for batch, _ in batches for r in batch]
    cpus = [cpu for _, cpu in batches]
    t0 = min(r["start"] for r in rows)
    t1 = max(r["end"] for r in rows)
    errors = [e for r in rows for e in r["errors"]][:5]
    done = [r for r in rows if r["count"]]  # the tasks that succeeded: from the first start
    ok_seconds = max(r["end"] for r in done) - t0 if done else 0.0  # to the last of them
    return {
        "bytes": sum(r["bytes"] for r in rows),
        "count": sum(r["count"] for r in rows),
        "failures": sum(r["failures"] for r in rows),
        "seconds": t1 - t0,
        "ok_seconds": ok_seconds,
        "errors": errors,
        "client_cpu_seconds": sum(cpus),
        "client_cpu_per_process": cpus,
    }
