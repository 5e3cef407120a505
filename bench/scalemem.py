"""Memory per idle logged-in session: client processes that open and hold many sessions, each
process from its own loopback source address, and the server's RSS before and after."""

from __future__ import annotations

import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable

from bench.servers import HOST, Server, tree_cpu, tree_memory, tree_pids

PER_PROCESS = 8000  # sessions one client process holds (its descriptors stay below 20,000)
SPARE_FDS = 2000  # per worker: listeners, the store, logs; and SO_REUSEPORT's uneven spread
_HOLDER = """
import asyncio, sys
host, port, user, pw, n, source = sys.argv[1:7]
async def one(sem, held):
    async with sem:
        r, w = await asyncio.open_connection(host, int(port), local_addr=(source, 0))
        await r.readline()
        w.write(f"USER {user}\\r\\n".encode()); await w.drain(); line = await r.readline()
        if line.startswith(b"331"):
            w.write(f"PASS {pw}\\r\\n".encode()); await w.drain(); line = await r.readline()
        if not line.startswith(b"230"):
            raise SystemExit(f"login refused: {line!r}")
        held.append(w)
async def main():
    sem, held = asyncio.Semaphore(64), []
    await asyncio.gather(*(one(sem, held) for _ in range(int(n))))
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


def workers_for(count: int, default: int) -> int:
    """Worker processes needed so that ``count`` sessions fit the per-process descriptor limit
    (at least ``default``): each session holds one descriptor in the worker that accepted it."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    per_worker = max(1, limit - SPARE_FDS)
    return max(default, math.ceil(count / per_worker))


def _hold(srv: Server, count: int) -> tuple[list[subprocess.Popen[str]], float]:
    """Client processes holding ``count`` logged-in sessions; and the seconds it took."""
    procs, left, index = [], count, 0
    t0 = time.monotonic()
    while left > 0:
        n = min(PER_PROCESS, left)
        argv = [sys.executable, "-c", _HOLDER, HOST, str(srv.port), srv.user, srv.password,
                str(n), f"127.0.0.{2 + index % 8}"]  # fmt: skip
        procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True))  # fmt: skip
        left -= n
        index += 1
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            _release(procs)
            raise RuntimeError(f"a client process could not hold its sessions: {line!r}")
    return procs, time.monotonic() - t0


def _release(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()
    for proc in procs:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def _worker_fds(srv: Server) -> list[int]:
    """Open descriptors of each worker (the server's child processes)."""
    assert srv.proc is not None
    out = []
    for pid in tree_pids(srv.proc.pid)[1:]:
        try:
            out.append(len(os.listdir(f"/proc/{pid}/fd")))
        except OSError:
            continue
    return out


WARM_UP_PER_WORKER = 10  # logins opened and closed before the baseline, as the main bench does


def memory_point(srv: Server, count: int, workers: int) -> dict[str, object]:
    """RSS (and PSS) growth of the server's process tree per idle logged-in session, on a fresh
    server after a warm-up: a worker's first login maps the code pages of the password hasher
    and SQLite (shared file pages, counted again in every worker's RSS), once per worker."""
    assert srv.proc is not None
    warm, _ = _hold(srv, WARM_UP_PER_WORKER * workers)
    _release(warm)
    time.sleep(1.0)
    rss0, pss0, _ = tree_memory(srv.proc.pid)
    load, cpu0 = os.getloadavg()[0], tree_cpu(srv.proc.pid)
    try:
        procs, took = _hold(srv, count)
    except RuntimeError as e:
        return {"sessions": count, "workers": workers, "error": str(e)}
    server_cpu = tree_cpu(srv.proc.pid) - cpu0
    time.sleep(1.0)
    rss1, pss1, _ = tree_memory(srv.proc.pid)
    fds = _worker_fds(srv)
    client_cpu = sum(tree_cpu(p.pid) for p in procs)
    _release(procs)
    out: dict[str, object] = {
        "sessions": count,
        "workers": workers,
        "kib_per_session": (rss1 - rss0) / count,
        "pss_kib_per_session": (pss1 - pss0) / count,
        "warm_up_logins": WARM_UP_PER_WORKER * workers,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "worker_descriptors": fds,
        "open_seconds": took,
        "server_cpu_seconds": server_cpu,
        "client_processes": len(procs),
        "client_cpu_seconds": client_cpu,
        "client_cpu_share": client_cpu / took / len(procs),
        "load_1min": load,
    }
    print(
        f"  memory  {count:>7,} sessions, {workers} workers: {out['kib_per_session']:.2f} KiB "
        f"each, PSS {out['pss_kib_per_session']:.2f} (descriptors per worker {fds}; "
        f"opened in {took:.1f}s by {len(procs)} processes, "
        f"{client_cpu:.1f}s client CPU, {server_cpu:.1f}s server CPU; load {load:.1f})"
    )
    return out


def memory_curve(
    counts: list[int], default_workers: int, start: Callable[[int, int], Server],
    stop: Callable[[Server], None],
) -> list[dict[str, object]]:  # fmt: skip
    """One fresh pasv per count (``start(count, workers)``), with enough workers for the
    descriptor limit; a count the limits cannot hold is skipped with the reason."""
    out: list[dict[str, object]] = []
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    for count in counts:
        workers = workers_for(count, default_workers)
        if workers > 64:
            out.append({"sessions": count, "skipped": f"RLIMIT_NOFILE {limit}: >64 workers"})
            continue
        srv = start(count, workers)
        try:
            if not srv.ok:
                out.append({"sessions": count, "error": f"{srv.status}: {srv.reason}"})
                continue
            out.append(memory_point(srv, count, workers))
        finally:
            stop(srv)
    return out
