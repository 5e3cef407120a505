"""`pasv serve` on its defaults runs one worker per CPU core, and new sessions are spread over
them by the kernel (each worker has its own listening socket on the port)."""

from __future__ import annotations

import ftplib
import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.cli import support
from tests.cli.support import Pasv, _free_port, _read_until, _serve

stop = support.stop


def test_default_serve_runs_a_worker_per_core(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one CPU: one process, nothing to spread")
    admin = Pasv(tmp_path / "data")
    admin.ok("user", "add", "alice", "--password", "pw")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PASV_SERVER_WORKERS"}
    proc = _serve(admin.data, port, env=env)  # no --workers: the default
    stop.append(proc)
    pids = set()
    for _ in range(cores):
        line = _read_until(proc, r"listening on .* port \d+ \(")[-1]
        pids.add(int(re.search(r"pid (\d+)", line).group(1)))  # type: ignore[union-attr]
    assert len(pids) == cores
    served: set[int] = set()
    sessions = []
    try:
        for _ in range(24):  # all on one worker by chance: 2**-23 with two workers
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login("alice", "pw")
            sessions.append(ftp)
            status = ftp.sendcmd("STAT")
            served.add(int(re.search(r" Served by process (\d+)", status).group(1)))  # type: ignore[union-attr]
        assert served <= pids
        assert len(served) > 1
    finally:
        for ftp in sessions:
            ftp.close()
