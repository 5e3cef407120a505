"""Client load spread over a few processes, so the client side is not the limit."""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from bench import aiodownload, aiosmall
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
    """One process's share, and the CPU seconds the process used on it: downloads and small-file
    loops on one event loop, other tasks one per thread."""
    cpu0 = time.process_time()
    if kind == "download":
        return aiodownload.run_downloads(args, threads, start_at), time.process_time() - cpu0
    if kind == "small":  # args: the target, then the seconds and the cap of each session
        target, (seconds, cap) = args[:6], args[6:]
        rows = aiosmall.run_small(target, threads, start_at, seconds, cap)
        return rows, time.process_time() - cpu0
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


# A server's CPU seconds so far, and the window to read it in (seconds after the tasks start).
Probe = tuple[Callable[[], float], tuple[float, float]]


def _probe(probe: Probe, start_at: float) -> float:
    """The server's CPU seconds per second of wall time within the probe's window."""
    read, (begin, end) = probe
    time.sleep(max(0.0, start_at + begin - time.monotonic()))
    cpu0, t0 = read(), time.monotonic()
    time.sleep(max(0.0, start_at + end - time.monotonic()))
    return (read() - cpu0) / max(time.monotonic() - t0, 1e-6)


def run(
    kind: str,
    args: tuple[Any, ...],
    total: int,
    procs: int,
    timeout: float,
    probe: Probe | None = None,
) -> Result:
    """Run `total` tasks in `procs` processes; aggregate counts, bytes and the wall time, and
    the client processes' CPU seconds (each and the sum).

    With ``probe`` (a reading of the server's CPU seconds, and the window within the run, in
    seconds from its start), the result also has ``probe_cpu_per_second``: the server's CPU
    rate while every task runs, read before any of them ends (a forking server's session
    processes are still there to be read)."""
    procs = max(1, min(procs, total))
    per = [total // procs + (1 if i < total % procs else 0) for i in range(procs)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(procs) as pool:
        pool.map(time.sleep, [0.0] * procs)  # every worker is up and imported
        start_at = time.monotonic() + 0.2
        jobs = [(kind, args, n, start_at) for n in per]
        try:
            pending = pool.starmap_async(_proc_main, jobs)
            rate = _probe(probe, start_at) if probe is not None else None
            batches = pending.get(timeout=timeout)
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
    extra = {} if rate is None else {"probe_cpu_per_second": rate}
    return extra | {
        "bytes": sum(r["bytes"] for r in rows),
        "count": sum(r["count"] for r in rows),
        "failures": sum(r["failures"] for r in rows),
        "seconds": t1 - t0,
        "ok_seconds": ok_seconds,
        "errors": errors,
        "client_cpu_seconds": sum(cpus),
        "client_cpu_per_process": cpus,
    }
