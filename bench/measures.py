"""The measurements, each run against one server and bounded in count and time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import ftps, parallel
from bench.files import BIG, CONC, LISTDIR, SMALL, UPLOAD, Sizes
from bench.ftpclient import MIB, FtpClient
from bench.placement import shared_cpu
from bench.rawlimit import RawSender
from bench.servers import HOST, Server, tree_cpu, tree_memory

Result = dict[str, Any]
MAX_ITER = 1_000_000


def _client(srv: Server, timeout: float = 60.0) -> FtpClient:
    c = FtpClient(HOST, srv.port, timeout=timeout)
    c.login(srv.user, srv.password)
    return c


def _retr_once(c: FtpClient, size: int, buf: bytearray) -> float:
    t0 = time.perf_counter()
    n = c.retr_into(f"RETR {BIG}", buf)
    dt = time.perf_counter() - t0
    if n != size:
        raise ValueError(f"short RETR: {n} of {size} bytes")
    return n / dt


def retr_rounds(
    servers: list[Server], sizes: Sizes, tpl: str, raw: bool, cpu: int | None
) -> tuple[list[float], dict[str, Result]]:
    """RETR of the big file, rounds interleaved with raw-limit transfers; the median of each. With
    `cpu`, the servers, the raw sender and this client all run on that one CPU."""
    buf = bytearray(MIB)
    raws: list[float] = []
    runs: dict[str, list[float]] = {s.name: [] for s in servers}
    errors: dict[str, str] = {}
    clients: dict[str, FtpClient] = {}
    rounds = sizes.transfer_runs
    roots = [s.proc.pid for s in servers if s.proc is not None]
    with (
        RawSender(f"{tpl}/{BIG}", rounds if raw else 0) as sender,
        shared_cpu([*roots, sender.proc.pid], cpu),
    ):
        for _ in range(rounds):
            if raw:
                raws.append(sender.fetch())
            for srv in servers:
                if srv.name in errors:
                    continue
                try:
                    if srv.name not in clients:
                        clients[srv.name] = _client(srv, timeout=120)
                    runs[srv.name].append(_retr_once(clients[srv.name], sizes.big, buf))
                except Exception as e:
                    errors[srv.name] = f"{type(e).__name__}: {e}"
    for c in clients.values():
        c.quit()
    out: dict[str, Result] = {}
    for srv in servers:
        r = runs[srv.name]
        if srv.name in errors:
            out[srv.name] = {"error": errors[srv.name], "runs": r}
        else:
            out[srv.name] = {"value": sorted(r)[(len(r) - 1) // 2], "unit": "B/s", "runs": r}
    return raws, out


def _read_through(path: str) -> None:
    buf = bytearray(MIB)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


def stor(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """STOR of the big file from local disk with sendfile: throughput."""
    # Every server starts from the same page-cache state: dirty pages left by an earlier upload
    # would otherwise throttle whichever server happens to write next to disk speed.
    os.sync()
    _read_through(f"{tpl}/{BIG}")  # and the client's source is in the page cache for everyone
    leftover = srv.root / UPLOAD if srv.root is not None else None
    # An untimed upload first: the timed one then writes into memory the VM's host has backed
    # (docs/architecture.md, "The bench on a small VM"); after a few idle seconds a large-write
    # server can otherwise be ten times slower for reasons of the VM, not of the server.
    _client(srv, timeout=120).upload_rate(UPLOAD, f"{tpl}/{BIG}", sizes.big, leftover)
    rate = _client(srv, timeout=120).upload_rate(UPLOAD, f"{tpl}/{BIG}", sizes.big, leftover)
    return {"value": rate, "unit": "B/s"}


def listen_drops() -> int:
    """The kernel's count of connections dropped at a full listen queue (TcpExt, all sockets)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for header, values in zip(lines[::2], lines[1::2], strict=False):
        if header.startswith("TcpExt:"):
            row = dict(zip(header.split()[1:], values.split()[1:], strict=False))
            return int(row.get("ListenOverflows", 0)) + int(row.get("ListenDrops", 0))
    return 0


def concurrent(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """Many clients each downloading the same file at once: aggregate throughput, and how many
    of their connection attempts the kernel dropped because the listen queue was full."""
    n = sizes.conc_clients
    args = (HOST, srv.port, srv.user, srv.password, CONC, sizes.conc_size)
    assert srv.proc is not None
    # 16 sessions held at once reach every worker (SO_REUSEPORT spreads them): a worker's first
    # login of an account verifies its argon2 hash (about 0.3 s of CPU), not a cost per byte
    for c in [_client(srv) for _ in range(16)]:
        c.quit()
    drops, cpu = listen_drops(), tree_cpu(srv.proc.pid)
    r = parallel.run("download", args, n, procs=4, timeout=120 + n * sizes.conc_size / 20e6)
    drops, cpu = listen_drops() - drops, tree_cpu(srv.proc.pid) - cpu
    if "seconds" not in r:
        return {"value": 0.0, "unit": "B/s", "failures": n, "errors": r["errors"]}
    value = r["bytes"] / r["seconds"] if r["seconds"] > 0 else 0.0
    out = {"value": value, "unit": "B/s", "failures": r["failures"], "clients": n}
    gib = r["bytes"] / 2**30
    if gib > 0:  # the server's CPU (its whole tree, ended session processes too) per GiB moved,
        # and the load generator's beside it: on a small machine they share the CPUs
        out |= {
            "server_cpu_s_per_gib": cpu / gib,
            "client_cpu_s_per_gib": r["client_cpu_seconds"] / gib,
        }
    return out | {"seconds": r["seconds"], "errors": r["errors"], "syn_dropped": drops}


def logins(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """Sequential connect + USER + PASS + QUIT loop for a bounded time."""
    r = parallel.login_loop(HOST, srv.port, srv.user, srv.password, sizes.seconds, MAX_ITER)
    dt = r["end"] - r["start"]
    return {"value": r["count"] / dt, "unit": "/s", "failures": r["failures"]} | _errs(r)


def logins_parallel(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """The same login loop in several processes at once."""
    k = sizes.parallel_logins
    args = (HOST, srv.port, srv.user, srv.password, sizes.seconds, MAX_ITER)
    r = parallel.run("logins", args, k, procs=k, timeout=sizes.seconds + 60)
    if "seconds" not in r:
        return {"value": 0.0, "unit": "/s", "failures": k, "errors": r["errors"]}
    value = r["count"] / r["seconds"]
    return {"value": value, "unit": "/s", "failures": r["failures"], "loops": k} | _errs(r)


def _errs(r: Result) -> Result:
    return {"errors": r["errors"]} if r.get("errors") else {}


def _session_loop(srv: Server, sizes: Sizes, command: str, expect: int | None) -> Result:
    """Repeat one EPSV + command + read + 226 on one session for a bounded time; also the
    server's CPU (its process tree, user + system) and this client's CPU per operation."""
    buf = bytearray(MIB)
    c = _client(srv)
    count, nbytes = 0, 0
    assert srv.proc is not None
    cpu0, me0 = tree_cpu(srv.proc.pid), time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + sizes.seconds
    try:
        while count < MAX_ITER and time.perf_counter() < deadline:
            n = c.retr_into(command, buf)
            if (expect is not None and n != expect) or n == 0:
                raise ValueError(f"{command}: got {n} bytes, expected {expect}")
            count += 1
            nbytes += n
        dt = time.perf_counter() - t0
        cpu = tree_cpu(srv.proc.pid) - cpu0  # before QUIT: forking servers' session is alive
        me = time.process_time() - me0
    finally:
        c.quit()
    per = 1e6 / max(count, 1)
    return {
        "value": count / dt,
        "unit": "/s",
        "bytes_per_reply": nbytes // max(count, 1),
        "server_cpu_us": cpu * per,
        "client_cpu_us": me * per,
        "client_cpu_share": me / dt,
    }


def small_retr(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """EPSV + RETR of a 4 KiB file + read + 226, repeated on one session."""
    return _session_loop(srv, sizes, f"RETR {SMALL}", sizes.small)


SMALL_SESSIONS = 20  # the small-file row of many sessions, in two client processes
SMALL_PROCS = 2


def small_sessions(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """20 sessions at once, each repeating EPSV + RETR of the 4 KiB file + read + 226: the
    transfers per second of them all, and the server's CPU per transfer while all run."""
    assert srv.proc is not None
    pid = srv.proc.pid
    window = (0.2 * sizes.seconds + 0.1, 0.9 * sizes.seconds)
    args = (HOST, srv.port, srv.user, srv.password, SMALL, sizes.small, sizes.seconds, MAX_ITER)
    r = parallel.run(
        "small", args, SMALL_SESSIONS, SMALL_PROCS, sizes.seconds + 60,
        probe=(lambda: tree_cpu(pid), window),
    )  # fmt: skip
    if "seconds" not in r or not r["count"]:
        return {"value": 0.0, "unit": "/s", "failures": SMALL_SESSIONS, "errors": r["errors"]}
    rate = r["count"] / r["seconds"]
    return {
        "value": rate,
        "unit": "/s",
        "sessions": SMALL_SESSIONS,
        "failures": r["failures"],
        "server_cpu_us": r["probe_cpu_per_second"] / rate * 1e6,
        "client_cpu_us": r["client_cpu_seconds"] / r["count"] * 1e6,
        "client_cpu_per_process": [cpu / r["seconds"] for cpu in r["client_cpu_per_process"]],
    } | _errs(r)


def list_dir(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """EPSV + LIST of a 1000-entry directory + read + 226, repeated on one session."""
    return _session_loop(srv, sizes, f"LIST {LISTDIR}", None)


def memory(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """Process-tree RSS growth per idle logged-in session, in KiB."""
    assert srv.proc is not None
    n = sizes.idle_sessions
    for c in [_client(srv) for _ in range(5)]:  # warm-up: lazy imports, caches
        c.quit()
    time.sleep(0.5)
    rss0, pss0, procs0 = tree_memory(srv.proc.pid)
    sessions: list[FtpClient] = []
    try:
        for _ in range(n):
            sessions.append(_client(srv))
        time.sleep(1.0)
        rss1, pss1, procs1 = tree_memory(srv.proc.pid)
    finally:
        for c in sessions:
            c.close()
    return {
        "value": (rss1 - rss0) / n,
        "unit": "KiB",
        "sessions": n,
        "rss_before_kib": rss0,
        "rss_after_kib": rss1,
        "pss_per_session_kib": (pss1 - pss0) / n,
        "processes_before": procs0,
        "processes_after": procs1,
    }


def _unused(srv: Server, sizes: Sizes, tpl: str) -> Result:
    raise NotImplementedError("RETR runs through retr_rounds")


Measure = Callable[[Server, Sizes, str], Result]
MEASURES: dict[str, tuple[str, Measure]] = {
    "memory": ("memory per idle session", memory),
    "retr": ("RETR big file", _unused),
    "stor": ("STOR big file", stor),
    "concurrent": ("concurrent downloads", concurrent),
    "logins": ("logins/s (1 loop)", logins),
    "logins4": ("logins/s (parallel loops)", logins_parallel),
    "small": ("small-file RETR/s", small_retr),
    "small20": ("small-file RETR/s, 20 sessions", small_sessions),
    "list": ("LIST 1000 entries/s", list_dir),
    "tls_retr": ("FTPS RETR big file", ftps.tls_retr),
    "tls_stor": ("FTPS STOR big file", ftps.tls_stor),
}
