"""Scale curves: memory per idle logged-in session at growing counts (pasv); the first
(uncached) LIST of growing directories and 1,000 concurrent downloads on every server; logins/s
with 100,000 accounts in pasv's store beside a store of 10.

    .venv/bin/python -m bench.scale [--parts memory,list,logins,downloads]
        [--sessions 1000,10000,50000] [--entries 1000,10000,100000] [--accounts 10,100000]
        [--clients 1000] [--only pasv,vsftpd,...] [--json PATH]

Idle sessions are opened by several client processes (each from its own loopback source
address, so no process runs out of ephemeral ports), at most 8,000 each, on a fresh pasv per
count with enough workers for the per-process descriptor limit. The load generator's CPU is
shown beside each figure, and the load average. All traffic goes to 127.0.0.1-127.0.0.9.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cservers, files, scaledl, scalelogins, scalemem, servers
from bench.ftpclient import MIB, FtpClient
from bench.servers import HOST, Server, tree_cpu

PEERS = ("pyftpdlib", "vsftpd", "proftpd", "pure-ftpd")
PARTS = ("memory", "list", "logins", "downloads")


def _drop_caches() -> bool:
    """Write back and drop the page cache, dentries and inodes (root only)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def _make_dir(root: Path, name: str, entries: int) -> None:
    d = root / name
    d.mkdir(exist_ok=True)
    for i in range(entries):
        (d / f"f{i:06d}.txt").touch()
    shutil.chown(d, *(os.stat(root).st_uid, os.stat(root).st_gid))


def list_once(srv: Server, n: int, dropped: bool) -> dict[str, Any]:
    """One LIST of the ``n``-entry directory on a new control connection."""
    assert srv.proc is not None
    c = FtpClient(HOST, srv.port, timeout=600)
    c.login(srv.user, srv.password)
    buf = bytearray(MIB)
    try:
        cpu0, me0, load = tree_cpu(srv.proc.pid), time.process_time(), os.getloadavg()[0]
        t0 = time.perf_counter()
        size = c.retr_into(f"LIST scale{n}", buf)
        dt = time.perf_counter() - t0
        cpu = tree_cpu(srv.proc.pid) - cpu0  # before QUIT: a forking server's session lives
        me = time.process_time() - me0
    finally:
        c.quit()
    if size < n * 40:  # an `ls -l` line of these names is 60-75 bytes: the listing is cut
        raise ValueError(f"{srv.name}: LIST of {n:,} entries gave only {size:,} bytes")
    print(f"  LIST    {srv.name:<10} {n:>7,} entries: {dt * 1000:,.0f} ms, server CPU "
          f"{cpu * 1000:,.0f} ms, client CPU {me * 1000:,.0f} ms, {size:,} bytes "
          f"(caches {'dropped' if dropped else 'NOT dropped'}; load {load:.1f})")  # fmt: skip
    return {"entries": n, "seconds": dt, "bytes": size,
            "server_cpu_seconds": cpu, "client_cpu_seconds": me,
            "caches_dropped": dropped, "load_1min": load}  # fmt: skip


def _changed(root: Path, name: str) -> None:
    """A file made and removed in the directory: its mtime moves, so no server may reuse a
    listing of it (pasv keeps one for ``listing_cache_ttl`` of an unchanged directory)."""
    mark = root / name / ".round"
    mark.touch()
    mark.unlink()


def list_curve(started: list[Server], entries: list[int], runs: int) -> dict[str, object]:
    """Every directory size on every server, ``runs`` rounds in rotating order, each LIST after
    the directory changed and the kernel's caches were dropped; the median of each."""
    for srv in started:
        assert srv.root is not None
        for n in entries:
            _make_dir(srv.root, f"scale{n}", n)
    rounds: dict[str, dict[int, list[dict[str, Any]]]] = {s.name: {} for s in started}
    for i in range(runs):
        for n in entries:
            for srv in started[i % len(started) :] + started[: i % len(started)]:
                assert srv.root is not None
                _changed(srv.root, f"scale{n}")
                rounds[srv.name].setdefault(n, []).append(list_once(srv, n, _drop_caches()))
    out: dict[str, object] = {}
    for name, by_size in rounds.items():
        out[name] = [
            {"entries": n, "median_seconds": _median([r["seconds"] for r in rs]),
             "median_server_cpu_seconds":
                 _median([r["server_cpu_seconds"] for r in rs]),
             "rounds": rs}
            for n, rs in by_size.items()
        ]  # fmt: skip
    return out


def _median(values: list[float]) -> float:
    return sorted(values)[(len(values) - 1) // 2] if values else 0.0


def _start(name: str, work: Path, tpl: Path, sizes: files.Sizes, a: argparse.Namespace) -> Server:
    ranges = servers.passive_ranges(a.passive_base, a.passive_span)
    if name == "pasv":
        env = {"PASV_SERVER_MAX_SESSIONS": str(a.clients + 1000)}
        return servers.start_pasv(work, tpl, sizes, ranges[name], a.workers, settings=env)
    if name == "pyftpdlib":
        return servers.start_pyftpdlib(work, tpl, sizes, ranges[name], None)
    if name == "vsftpd":
        return servers.start_vsftpd(work, tpl, sizes, ranges[name])
    if name == "proftpd":
        return cservers.start_proftpd(work, tpl, sizes, ranges[name])
    return cservers.start_pureftpd(work, tpl, sizes, ranges[name])


def _memory(work: Path, tpl: Path, sizes: files.Sizes, a: argparse.Namespace) -> list[object]:
    default = a.workers or len(os.sched_getaffinity(0))
    passive = servers.passive_ranges(a.passive_base, a.passive_span)["pasv-policy"]

    def start(count: int, workers: int) -> Server:
        # sessions must stay open while the last ones are opened: idle timeout raised
        env = {"PASV_SERVER_MAX_SESSIONS": str(count + 1000), "PASV_TIMEOUTS_IDLE": "3600"}
        w = None if workers == default and a.workers is None else workers  # defaults if it fits
        return servers.start_pasv(work, tpl, sizes, passive, w, name=f"pasv-mem{count}",
                                  settings=env)  # fmt: skip

    return list(scalemem.memory_curve(a.session_counts, default, start, servers.stop))


def _logins(work: Path, tpl: Path, sizes: files.Sizes, a: argparse.Namespace) -> object:
    passive = servers.passive_ranges(a.passive_base, a.passive_span)["pasv-policy"]
    stores: dict[int, Server] = {}
    try:
        for count in a.account_counts:
            srv = servers.start_pasv(
                work, tpl, sizes, passive, a.workers, name=f"pasv-acct{count}",
                prepare=functools.partial(scalelogins.add_accounts, count=count),
            )  # fmt: skip
            stores[count] = srv
            if not srv.ok:
                raise RuntimeError(f"{srv.name}: {srv.status} {srv.reason}")
        return scalelogins.login_curve(stores, a.login_loops, a.seconds, a.runs)
    finally:
        for srv in stores.values():
            servers.stop(srv)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--parts", default=",".join(PARTS), help="which curves")
    p.add_argument("--sessions", default="1000,10000,50000", help="idle-session counts (pasv)")
    p.add_argument("--entries", default="1000,10000,100000", help="directory sizes for LIST")
    p.add_argument("--accounts", default="10,100000", help="store sizes for the login loops")
    p.add_argument("--login-loops", type=int, default=4, help="login loops (one per process)")
    p.add_argument("--seconds", type=float, default=5.0, help="per login round")
    p.add_argument("--runs", type=int, default=3, help="rounds of logins and downloads")
    p.add_argument("--clients", type=int, default=1000, help="concurrent downloads")
    p.add_argument("--client-procs", type=int, default=4, help="processes they run in")
    p.add_argument("--size-mib", type=int, default=10, help="file each client downloads")
    p.add_argument("--only", default="pasv," + ",".join(PEERS), help="servers (LIST, downloads)")
    p.add_argument("--workers", type=int, help="pasv's workers (default: its own, one per core)")
    p.add_argument("--passive-base", type=int, default=10000,
                   help="below the main bench's 20000, so both can run at once")  # fmt: skip
    p.add_argument("--passive-span", type=int, default=1100, help="passive ports per server")
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    a.session_counts, a.entry_counts = _ints(a.sessions), _ints(a.entries)
    a.account_counts = _ints(a.accounts)
    parts = a.parts.split(",")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="pasv-scale-"))
    work.chmod(0o755)
    size = a.size_mib * MIB
    sizes = files.Sizes(MIB, size, a.clients, 4096, 0, a.seconds, 0, a.login_loops, a.runs, a.runs)
    tpl = files.make_template(work, sizes)
    results: dict[str, object] = {"load_at_start": os.getloadavg(), "nofile_limit": hard}
    print(f"  load {os.getloadavg()[0]:.1f}; RLIMIT_NOFILE {hard} per process")
    started: list[Server] = []
    try:
        if "memory" in parts:
            results["memory"] = _memory(work, tpl, sizes, a)
        if "logins" in parts:
            results["logins"] = _logins(work, tpl, sizes, a)
        if "list" in parts or "downloads" in parts:
            for name in a.only.split(","):
                srv = _start(name, work, tpl, sizes, a)
                started.append(srv)
                if not srv.ok:
                    print(f"  {name}: {srv.status} {srv.reason}")
            ok = [s for s in started if s.ok]
            if "list" in parts:
                results["first_list"] = list_curve(ok, a.entry_counts, a.runs)
            if "downloads" in parts:
                results["downloads"] = scaledl.download_curve(ok, a.clients, a.client_procs,
                                                              size, a.runs)  # fmt: skip
    finally:
        for srv in started:
            servers.stop(srv)
        shutil.rmtree(work, ignore_errors=True)
    results["load_at_end"] = os.getloadavg()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
