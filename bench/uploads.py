"""What the upload modes cost: STOR through pasv in standard, atomic and atomic + fsync mode.

    .venv/bin/python -m bench.uploads [--quick] [--runs N]

Three pasv servers side by side, on their defaults except [uploads]; each round uploads the big
file once and then small files for a fixed time, servers in rotating order; medians of the
rounds, and each mode as a ratio to standard. All traffic goes to 127.0.0.1.
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
from bench.files import BIG, SMALL, UPLOAD
from bench.ftpclient import FtpClient

MODES = {
    "standard": {},
    "atomic": {"PASV_UPLOADS_MODE": "atomic"},
    "atomic+fsync": {"PASV_UPLOADS_MODE": "atomic", "PASV_UPLOADS_FSYNC": "true"},
    "standard+fsync": {"PASV_UPLOADS_FSYNC": "true"},
}


def big_rate(srv: servers.Server, tpl: Path, size: int) -> float:
    """The big file's STOR rate, timed warm: one untimed upload first, as the main bench does
    (docs/architecture.md, "The bench on a small VM")."""
    assert srv.root is not None
    os.sync()  # every server starts from the same page-cache state
    rate = 0.0
    for _ in range(2):
        client = FtpClient(servers.HOST, srv.port, timeout=300)
        client.login(srv.user, srv.password)
        rate = client.upload_rate(UPLOAD, str(tpl / BIG), size, srv.root / UPLOAD)
    return rate


def small_rate(srv: servers.Server, tpl: Path, size: int, seconds: float) -> float:
    """Uploads of the small file per second, one session, each a new name (bounded in time)."""
    client = FtpClient(servers.HOST, srv.port, timeout=60)
    client.login(srv.user, srv.password)
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    try:
        while time.perf_counter() < deadline and done < 100_000:
            if client.stor_file(f"s{done}.bin", str(tpl / SMALL)) != size:
                raise ValueError("short STOR")
            done += 1
    finally:
        client.quit()
    return done / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.uploads", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    sizes = files.QUICK if args.quick else files.FULL
    work = Path(tempfile.mkdtemp(prefix="pasv-bench-uploads-"))
    started: list[servers.Server] = []
    results: dict[str, dict[str, list[float]]] = {m: {"big": [], "small": []} for m in MODES}
    try:
        tpl = files.make_template(work, sizes)
        os.sync()
        for index, (mode, settings) in enumerate(MODES.items()):
            passive = (21000 + 600 * index, 21000 + 600 * index + 99)
            name = f"pasv-{mode.replace('+', '-')}"
            srv = servers.start_pasv(work, tpl, sizes, passive, None, name=name, settings=settings)
            if not srv.ok:
                print(f"{mode}: {srv.status} {srv.reason}", file=sys.stderr)
                return 1
            started.append(srv)
        order = list(zip(MODES, started, strict=True))
        for round_ in range(args.runs):
            shifted = order[round_ % len(order) :] + order[: round_ % len(order)]
            for mode, srv in shifted:
                results[mode]["big"].append(big_rate(srv, tpl, sizes.big))
                results[mode]["small"].append(small_rate(srv, tpl, sizes.small, sizes.seconds))
    finally:
        for srv in started:
            servers.stop(srv)
        shutil.rmtree(work, ignore_errors=True)
    base = {k: statistics.median(results["standard"][k]) for k in ("big", "small")}
    print(f"upload modes, medians of {args.runs} rounds ({'quick' if args.quick else 'full'}):")
    print(f"{'mode':<16}{'STOR big MB/s':>14}{'ratio':>8}{'small STOR/s':>14}{'ratio':>8}")
    for mode in MODES:
        big = statistics.median(results[mode]["big"])
        small = statistics.median(results[mode]["small"])
        print(
            f"{mode:<16}{big / 1e6:>14,.0f}{big / base['big']:>8.2f}"
            f"{small:>14,.0f}{small / base['small']:>8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
