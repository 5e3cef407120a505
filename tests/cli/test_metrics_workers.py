"""`pasv serve --workers 2`: one /metrics for all workers (any of them answers), exact counts of
a session mix spread over both, counters kept when a worker dies; hooks from a TOML config."""

from __future__ import annotations

import ftplib
import io
import json
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
from tests.cli import support
from tests.cli.support import Pasv, _free_port, _read_until, _serve
from tests.server.helpers import wait_for
from tests.server.test_hooks import Receiver
from tests.support.scrape import scrape, value

stop = support.stop

USER, PASSWORD = "alice", "pw-alice"


def _start(
    tmp_path: Path, stop: list[subprocess.Popen[str]], config: Path
) -> tuple[int, tuple[str, int], subprocess.Popen[str]]:
    """The control port, the metrics address and the server process (bounded restarts when a
    free port was taken meanwhile)."""
    for _ in range(3):
        port = _free_port()
        proc = _serve(tmp_path / "data", port, "--workers", "2", "--config", str(config))
        stop.append(proc)
        lines = _read_until(proc, r"metrics on http://|Cannot start")
        found = re.search(r"metrics on http://([\d.]+):(\d+)/metrics", lines[-1])
        if found is None:
            proc.wait(10)
            continue
        started = [_read_until(proc, r"listening on|Cannot start")[-1] for _ in range(2)]
        if all("listening on" in line for line in started):
            return port, (found.group(1), int(found.group(2))), proc
        proc.wait(10)
    raise AssertionError("no free port to start on")


def _pid(ftp: ftplib.FTP) -> int:
    found = re.search(r" Served by process (\d+)", ftp.sendcmd("STAT"))
    assert found
    return int(found.group(1))


def test_one_registry_across_workers(tmp_path: Path, stop: list[subprocess.Popen[str]]) -> None:
    Pasv(tmp_path / "data").ok("user", "add", USER, "--password", PASSWORD)
    receiver = Receiver()
    config = tmp_path / "pasv.toml"
    config.write_text(
        "[[hooks]]\n"
        f'name = "audit"\nurl = "{receiver.url}"\nsecret = "s"\nevents = ["upload_complete"]\n'
    )
    try:
        port, metrics, proc = _start(tmp_path, stop, config)
        pids: set[int] = set()
        uploads = 0
        for attempt in range(40):  # bounded: until both workers served sessions, at least 6
            if attempt >= 6 and len(pids) == 2:
                break
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login(USER, PASSWORD)
            pids.add(_pid(ftp))
            ftp.storbinary(f"STOR f{attempt}.bin", io.BytesIO(b"u" * 1000))
            uploads += 1
            ftp.retrbinary(f"RETR f{attempt}.bin", lambda chunk: None)
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                ftp.sendcmd("SIZE nothing-here")
            ftp.quit()
            bad = ftplib.FTP()
            bad.connect("127.0.0.1", port, timeout=10)
            with pytest.raises(ftplib.error_perm, match=r"^530"):
                bad.login(USER, "wrong")
            bad.close()
        assert len(pids) == 2, "the sessions all went to one worker"

        def check(
            samples: dict[tuple[str, frozenset[tuple[str, str]]], float], logins: int
        ) -> None:
            assert value(samples, "pasv_logins_total") == logins
            assert value(samples, "pasv_login_failures_total", reason="password") == uploads
            assert value(samples, "pasv_transfer_bytes_total", direction="in") == 1000 * uploads
            assert value(samples, "pasv_transfer_bytes_total", direction="out") == 1000 * uploads
            refused = {"code": "550", "class": "PathNotFound"}
            assert value(samples, "pasv_refusals_total", **refused) == uploads

        for _ in range(4):  # whichever worker answers, the sums are the same
            check(scrape(*metrics), uploads)
        held: list[ftplib.FTP] = []
        served: set[int] = set()
        for _ in range(40):  # bounded: logged-in sessions held open on both workers
            if len(held) >= 4 and len(served) == 2:
                break
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login(USER, PASSWORD)
            served.add(_pid(ftp))
            held.append(ftp)
        assert len(served) == 2
        wait_for(  # each worker samples its own sessions; the scrape sums them
            lambda: value(scrape(*metrics), "pasv_sessions", state="logged_in") == len(held),
            timeout=10,
        )
        for ftp in held:
            ftp.quit()
        wait_for(  # the session gauges are sampled by each worker once a second
            lambda: (
                sum(
                    value(scrape(*metrics), "pasv_sessions", state=s)
                    for s in ("connected", "logged_in", "transferring")
                )
                == 0
            ),
            timeout=10,
        )
        events = [json.loads(receiver.next()[1]) for _ in range(uploads)]
        assert sorted(e["path"] for e in events) == sorted(f"/f{i}.bin" for i in range(uploads))
        assert {e["event"] for e in events} == {"upload_complete"}

        worker = next(iter(pids))
        [run_dir] = [
            d.parent
            for d in Path(tempfile.gettempdir()).glob(f"pasv-metrics-*/counter_{worker}.db")
        ]
        os.kill(worker, signal.SIGKILL)  # a worker dies; its counts stay counted
        assert "listening on" in _read_until(proc, r"listening on")[-1]  # its replacement
        check(scrape(*metrics), uploads + len(held))
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0
        assert not run_dir.exists()  # the per-run directory goes with the server
    finally:
        receiver.close()
