"""What a hanging event hook costs FTP sessions: pasv with no hook against pasv whose command
hook never returns, one that fails at once, and a webhook whose port refuses (each for
upload_complete and download_complete).

    .venv/bin/python -m bench.hooks [--quick] [--runs N]

Two pasv servers side by side, on their defaults otherwise (metrics on). Each round runs whole
sessions for a fixed time on each server, in rotating order: connect, login, STOR the small
file, RETR it, QUIT. The figure is sessions per second, medians of the rounds, and the hanging
hooks' as ratios to none. The hook's program sleeps far past its timeout, so its queue fills
and drops: what is measured is that a session only ever puts an event in a queue.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import files, servers
from bench.files import SMALL
from bench.ftpclient import FtpClient

HANG = '["/bin/sleep", "3600"]'  # a program the unprivileged serving user can run


def hook_config(path: Path, target: str, retries: int = 0) -> Path:
    path.write_text(
        "[[hooks]]\n"
        f'name = "{path.stem}"\n'
        'events = ["upload_complete", "download_complete"]\n'
        f"{target}\n"
        f"timeout = 60\nretries = {retries}\nbackoff = 0.01\nqueue = 100\n"
    )
    return path


def setups(work: Path) -> dict[str, dict[str, str]]:
    """No hook; a command that never returns; one that fails at once (a process per event);
    a webhook whose port refuses (three retries each)."""
    closed = servers.free_port()
    configs = {
        "hanging": hook_config(work / "hanging.toml", f"command = {HANG}"),
        "failing": hook_config(work / "failing.toml", 'command = ["/bin/false"]'),
        "refused": hook_config(
            work / "refused.toml", f'url = "http://127.0.0.1:{closed}/"', retries=3
        ),
    }
    return {"none": {}} | {name: {"PASV_CONFIG": str(path)} for name, path in configs.items()}


def cpu_seconds(srv: servers.Server) -> float:
    """CPU time of the server's processes, with their reaped children (the hook programs)."""
    assert srv.proc is not None
    ticks = 0
    for pid in servers.tree_pids(srv.proc.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def session_rate(srv: servers.Server, tpl: Path, size: int, seconds: float) -> tuple[float, float]:
    """Whole sessions per second (bounded in time and count), and server CPU ms per session."""
    cpu = cpu_seconds(srv)
    done = 0
    buf = bytearray(max(size, 1))
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and done < 100_000:
        client = FtpClient(servers.HOST, srv.port, timeout=60)
        client.login(srv.user, srv.password)
        if client.stor_file(f"s{done % 50}.bin", str(tpl / SMALL)) != size:
            raise ValueError("short STOR")
        if client.retr_into(f"RETR s{done % 50}.bin", buf) != size:
            raise ValueError("short RETR")
        client.quit()
        done += 1
    return done / (time.perf_counter() - started), (cpu_seconds(srv) - cpu) * 1000 / max(done, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hooks", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    sizes = files.QUICK if args.quick else files.FULL
    work = Path(tempfile.mkdtemp(prefix="pasv-bench-hooks-"))
    started: dict[str, servers.Server] = {}
    results: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}
    try:
        tpl = files.make_template(work, sizes)
        for index, (name, settings) in enumerate(setups(work).items()):
            results[name], costs[name] = [], []
            passive = (22000 + 600 * index, 22000 + 600 * index + 99)
            srv = servers.start_pasv(
                work, tpl, sizes, passive, None, name=f"pasv-hook-{name}", settings=settings
            )
            if not srv.ok:
                print(f"{name}: {srv.status} {srv.reason}", file=sys.stderr)
                return 1
            started[name] = srv
        order = list(started.items())
        for round_ in range(args.runs):
            shift = round_ % len(order)
            for name, srv in order[shift:] + order[:shift]:
                rate, cost = session_rate(srv, tpl, sizes.small, sizes.seconds)
                results[name].append(rate)
                costs[name].append(cost)
    finally:
        for srv in started.values():
            servers.stop(srv)
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(results["none"])
    base_cost = statistics.median(costs["none"])
    print(f"event hooks, medians of {args.runs} rounds ({'quick' if args.quick else 'full'}):")
    print(f"{'hook':<10}{'sessions/s':>12}{'ratio':>8}{'CPU ms':>9}{'ratio':>8}   rounds")
    for name, rates in results.items():
        rate, cost = statistics.median(rates), statistics.median(costs[name])
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(
            f"{name:<10}{rate:>12,.0f}{rate / base:>8.2f}{cost:>9.2f}{cost / base_cost:>8.2f}"
            f"   {shown}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
