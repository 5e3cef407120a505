"""Logins/s on PostgreSQL (a cluster node) against SQLite (the default), in one run, as ratios.

`python -m bench.cluster` (after `make test` has installed PostgreSQL): a throwaway PostgreSQL
server (as in the tests), one `pasv serve` on SQLite and one node on PostgreSQL, each measured
with the bench's sequential login loop (connect, USER, PASS, QUIT) and with 4 processes at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.cli.support import _free_port, _read_until
from tests.support.postgres import PgCluster, pg_binaries

from bench import parallel

USER, PASSWORD = "bench", "bench-pw"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CAP = 200_000


def _serve(data: Path, url: str | None) -> tuple[subprocess.Popen[str], int]:
    port = _free_port()
    argv = [sys.executable, "-m", "pasv", "serve", "--data-dir", str(data), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--implicit-port", str(_free_port()), "--log-level", "warning"]
    argv += ["--passive-ports", "12900-12950"]
    env = dict(os.environ)
    if url is not None:
        argv += ["--db", url, "--node", "bench"]
        env["PASV_ACCOUNTS_URL"] = url
    add = ["user", "add", USER, "--password", PASSWORD, "--data-dir", str(data)]
    subprocess.run(
        [sys.executable, "-m", "pasv", *add],
        check=True,
        env=env,
        capture_output=True,
    )
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    _read_until(proc, r"listening on 127")
    return proc, port


def _rates(port: int) -> tuple[float, float]:
    one = parallel.login_loop("127.0.0.1", port, USER, PASSWORD, SECONDS, CAP)
    single = one["count"] / (one["end"] - one["start"])
    args = ("127.0.0.1", port, USER, PASSWORD, SECONDS, CAP)
    many = parallel.run("logins", args, 4, procs=4, timeout=SECONDS + 60)
    return single, many["count"] / many["seconds"] if many.get("seconds") else 0.0


def main() -> None:
    bin_dir = pg_binaries()
    if bin_dir is None:
        sys.exit("PostgreSQL is not installed (make test installs it)")
    pg = PgCluster(bin_dir)
    procs: list[subprocess.Popen[str]] = []
    try:
        pg.start()
        root = Path(tempfile.mkdtemp(prefix="pasv-bench-"))
        sqlite, sqlite_port = _serve(root / "sqlite", None)
        procs.append(sqlite)
        postgres, pg_port = _serve(root / "pg", pg.create_database())
        procs.append(postgres)
        s1, s4 = _rates(sqlite_port)
        p1, p4 = _rates(pg_port)
        print(f"{'logins/s':<28}{'SQLite':>10}{'PostgreSQL':>12}{'PG/SQLite':>11}")
        print(f"{'one loop':<28}{s1:>10.0f}{p1:>12.0f}{p1 / s1:>11.2f}")
        print(f"{'4 processes':<28}{s4:>10.0f}{p4:>12.0f}{p4 / s4:>11.2f}")
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        pg.remove()


if __name__ == "__main__":
    main()
