"""Scale curves: pasv's memory per idle logged-in session at growing counts, and the first
(uncached) LIST of growing directories on every server.

    .venv/bin/python -m bench.scale [--sessions 1000,10000] [--entries 1000,10000,100000]
                                    [--only pasv,vsftpd,...] [--json PATH]

Idle sessions are opened by several client processes (each from its own loopback source
address, so no process runs out of ephemeral ports), at most 8,000 each; their CPU is shown
beside each figure. A count the file-descriptor limits cannot hold is skipped with the reason.
All traffic goes to 127.0.0.1-127.0.0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import cservers, files, servers
from bench.ftpclient import MIB, FtpClient
from bench.servers import HOST, Server, tree_cpu, tree_memory

PER_PROCESS = 8000
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


def memory_curve(srv: Server, counts: list[int]) -> list[dict[str, object]]:
    assert srv.proc is not None
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    out: list[dict[str, object]] = []
    for count in counts:
        if count > limit * max(1, len(servers.tree_pids(srv.proc.pid)) - 1) - 500:
            out.append({"sessions": count, "skipped": f"RLIMIT_NOFILE {limit} per process"})
            continue
        time.sleep(1.0)
        rss0 = tree_memory(srv.proc.pid)[0]
        try:
            procs, took = _hold(srv, count)
        except RuntimeError as e:
            out.append({"sessions": count, "error": str(e)})
            continue
        time.sleep(1.0)
        rss1 = tree_memory(srv.proc.pid)[0]
        client_cpu = sum(tree_cpu(p.pid) for p in procs)
        _release(procs)
        out.append({
            "sessions": count,
            "kib_per_session": (rss1 - rss0) / count,
            "rss_before_kib": rss0,
            "rss_after_kib": rss1,
            "open_seconds": took,
            "client_processes": len(procs),
            "client_cpu_seconds": client_cpu,
        })  # fmt: skip
        print(
            f"  memory  {count:>7,} sessions: {out[-1]['kib_per_session']:.2f} KiB each "
            f"(opened in {took:.1f}s by {len(procs)} processes, {client_cpu:.1f}s client CPU)"
        )
    return out


def _make_dir(root: Path, name: str, entries: int) -> None:
    d = root / name
    d.mkdir(exist_ok=True)
    for i in range(entries):
        (d / f"f{i:06d}.txt").touch()
    shutil.chown(d, *(os.stat(root).st_uid, os.stat(root).st_gid))


def first_list(srv: Server, entries: list[int]) -> list[dict[str, object]]:
    """One LIST of each directory, the first since the server started (nothing cached)."""
    assert srv.proc is not None and srv.root is not None
    out: list[dict[str, object]] = []
    c = FtpClient(HOST, srv.port, timeout=300)
    c.login(srv.user, srv.password)
    buf = bytearray(MIB)
    try:
        for n in entries:
            cpu0, me0 = tree_cpu(srv.proc.pid), time.process_time()
            t0 = time.perf_counter()
            size = c.retr_into(f"LIST scale{n}", buf)
            dt = time.perf_counter() - t0
            out.append({"entries": n, "seconds": dt, "bytes": size,
                        "server_cpu_seconds": tree_cpu(srv.proc.pid) - cpu0,
                        "client_cpu_seconds": time.process_time() - me0})  # fmt: skip
            print(f"  LIST    {srv.name:<10} {n:>7,} entries: {dt * 1000:,.0f} ms")
    finally:
        c.quit()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    p.add_argument("--sessions", default="1000,10000", help="idle-session counts (pasv)")
    p.add_argument("--entries", default="1000,10000,100000", help="directory sizes for LIST")
    p.add_argument("--only", default="pasv,pyftpdlib,vsftpd,proftpd,pure-ftpd")
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    counts = [int(x) for x in a.sessions.split(",") if x]
    sizes_list = [int(x) for x in a.entries.split(",") if x]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="pasv-scale-"))
    work.chmod(0o755)
    sizes = files.QUICK
    tpl = files.make_template(work, sizes)
    ranges = servers.passive_ranges(20000, 500)
    results: dict[str, object] = {}
    started: list[Server] = []
    try:
        for name in a.only.split(","):
            if name == "pasv":
                env = {"PASV_SERVER_MAX_SESSIONS": str(max(counts, default=1000) + 1000)}
                srv = servers.start_pasv(work, tpl, sizes, ranges[name], None, settings=env)
            elif name == "pyftpdlib":
                srv = servers.start_pyftpdlib(work, tpl, sizes, ranges[name], None)
            elif name == "vsftpd":
                srv = servers.start_vsftpd(work, tpl, sizes, ranges[name])
            elif name == "proftpd":
                srv = cservers.start_proftpd(work, tpl, sizes, ranges[name])
            else:
                srv = cservers.start_pureftpd(work, tpl, sizes, ranges[name])
            started.append(srv)
            if not srv.ok:
                print(f"  {name}: {srv.status} {srv.reason}")
                continue
            assert srv.root is not None
            for n in sizes_list:
                _make_dir(srv.root, f"scale{n}", n)
            os.sync()
            entry: dict[str, object] = {"first_list": first_list(srv, sizes_list)}
            if name == "pasv":
                entry["memory"] = memory_curve(srv, counts)
            results[name] = entry
    finally:
        for srv in started:
            servers.stop(srv)
        shutil.rmtree(work, ignore_errors=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
