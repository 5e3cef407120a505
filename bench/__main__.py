"""Entry point: python -m bench [--quick] [--only NAME] [--json PATH]."""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

from bench import cservers, files, measures, placement, rawlimit, report, runner, servers

SERVER_NAMES = servers.ORDER


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, a few seconds per figure")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"server ({', '.join(SERVER_NAMES)}), measure ({', '.join(measures.MEASURES)}) "
        "or raw; repeat or comma-separate",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--workers", type=int, help="worker processes for pasv and pyftpdlib alike")
    p.add_argument("--runs", type=int, help="rounds of every measure (default 3)")
    p.add_argument(
        "--pin-retr",
        action="store_true",
        help="RETR and the raw limit with servers and client pinned to one CPU (its CPU cost); "
        "by default nothing is pinned, as users run servers",
    )
    p.add_argument(
        "--pasv-command", metavar="CMD", help="run pasv as CMD (default: python -m pasv)"
    )
    p.add_argument("--passive-base", type=int, default=20000, help="first passive port (20000)")
    p.add_argument("--passive-span", type=int, default=500, help="passive ports per server (500)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, files)")
    return p.parse_args(argv)


def select(only: list[str]) -> tuple[list[str], list[str], bool]:
    names = {n.strip() for item in only for n in item.split(",") if n.strip()}
    known = {*SERVER_NAMES, *measures.MEASURES, "raw"}
    if unknown := names - known:
        sys.exit(f"--only: unknown name(s) {sorted(unknown)}; choose from {sorted(known)}")
    srv = [s for s in SERVER_NAMES if s in names] or list(SERVER_NAMES)
    ms = [m for m in measures.MEASURES if m in names]
    if not ms and "raw" in names and not names & set(SERVER_NAMES):
        return [], [], True
    ms = ms or list(measures.MEASURES)
    return srv, ms, "raw" in names or "retr" in ms


def raise_nofile(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start(
    name: str, work: Path, tpl: Path, sizes: files.Sizes, args: argparse.Namespace
) -> servers.Server:
    workers: int | None = args.workers
    passive = servers.passive_ranges(args.passive_base, args.passive_span)[name]
    try:
        if name in ("pasv", "pasv-policy"):
            cmd = shlex.split(args.pasv_command) if args.pasv_command else None
            return servers.start_pasv(work, tpl, sizes, passive, workers, cmd, name)
        if name == "pyftpdlib":
            return servers.start_pyftpdlib(work, tpl, sizes, passive, workers)
        if name == "proftpd":
            return cservers.start_proftpd(work, tpl, sizes, passive)
        if name == "pure-ftpd":
            return cservers.start_pureftpd(work, tpl, sizes, passive)
        return servers.start_vsftpd(work, tpl, sizes, passive)
    except Exception as e:
        srv = servers.Server(name)
        srv.status, srv.reason = "failed to start", f"{type(e).__name__}: {e}"
        return srv


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    sizes = files.QUICK if args.quick else files.FULL
    if args.runs:
        sizes = files.Sizes(**{**sizes.__dict__, "runs": args.runs, "transfer_runs": args.runs})
    cpu = placement.one_cpu_available() if args.pin_retr else None
    server_names, measure_keys, want_raw = select(args.only)
    nofile = raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="pasv-bench-"))
    work.chmod(0o755)
    started: list[servers.Server] = []
    results: report.Results = {}
    raw: float | None = None
    raw_runs: list[float] = []
    try:
        console.print(f"[bold]pasv bench[/bold] ({'quick' if args.quick else 'full'}), "
                      f"temp dir {work}, RLIMIT_NOFILE {nofile}")  # fmt: skip
        if cpu is not None and "retr" in measure_keys:
            console.print(f"  RETR and the raw limit: servers, sender and client on CPU {cpu}")
        ranges = servers.passive_ranges(args.passive_base, args.passive_span)
        if warning := servers.ephemeral_overlap(ranges):
            console.print(f"[yellow]warning:[/yellow] {warning}")
        tpl = files.make_template(work, sizes)
        os.sync()  # no writeback of the fresh files during the measurements
        if want_raw and "retr" not in measure_keys:
            raw = rawlimit.measure(str(tpl / files.BIG), runs=sizes.transfer_runs)
            console.print(f"  raw limit: {raw / 1e6:,.1f} MB/s")
        for name in server_names:
            srv = start(name, work, tpl, sizes, args)
            started.append(srv)
            extra = f" — {srv.reason}" if srv.reason else ""
            console.print(f"  started {name}: {srv.status}{extra}")
            if srv.status not in ("ok", "skipped") and srv.stderr_tail():
                console.print(Text(srv.stderr_tail(), style="dim"))
        for key in measure_keys:
            ok = [s for s in started if s.ok]
            if key == "retr":
                raw = runner.retr_phase(console, ok, sizes, tpl, results, raw_runs, cpu)
            else:
                results[key] = runner.measure_rounds(console, key, ok, sizes, tpl)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]")
    finally:
        for srv in started:
            servers.stop(srv)
        info = {
            s.name: s.info() | {"stderr_tail": "" if s.ok else s.stderr_tail()} for s in started
        }
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report.derive(results)
    targets = report.evaluate(results, raw)
    if args.json:  # before printing, so a closed stdout cannot lose it
        payload = {
            "mode": "quick" if args.quick else "full",
            "sizes": sizes.__dict__,
            "workers": args.workers,
            "passive_base": args.passive_base,
            "passive_span": args.passive_span,
            "cpu_count": os.cpu_count(),
            "raw_limit_bytes_per_s": raw,
            "raw_limit_runs": raw_runs,
            "retr_cpu": cpu,
            "servers": info,
            "results": results,
            "targets": targets,
        }
        report.write_json(args.json, payload)
    labels = {k: v[0] for k, v in measures.MEASURES.items()}
    labels["small_cpu"] = "server CPU per small RETR"
    labels["small20_cpu"] = "server CPU per small RETR, 20 sessions"
    labels["concurrent_cpu"] = "server CPU per GiB, concurrent downloads"
    report.render(console, labels, results, raw, info, targets)
    if args.json:
        console.print(f"JSON written to {args.json}")
    if args.keep:
        console.print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
