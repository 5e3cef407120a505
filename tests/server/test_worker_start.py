"""A worker that cannot start: at the first start `pasv serve` stops with its reason instead of
replacing it many times a second; a replacement after a crash is retried less and less often,
the other worker serving meanwhile, and never once the server is stopping.

The supervisor runs its real add-on interface (the admin API's) with an add-on that fails while
a flag file exists, so the failure happens in the worker only, as an unreachable database or a
store the serving user may not open would."""

from __future__ import annotations

import ftplib
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli import support
from tests.cli.support import _read_until, needs_root, stop_all
from tests.support.live import passive_range
from tests.support.ports import free_port

system_user = support.system_user  # a fixture

SCRIPT = """
import os, sys
from pathlib import Path
from pasv.cli.common import setup_logging
from pasv.config import load_settings
from pasv.server.runner import run
from pasv.server.workerstart import WorkerStartError

data, port, implicit, passive, flag = sys.argv[1:6]
user = sys.argv[6] if len(sys.argv) > 6 else None  # started as root: serve as this user

async def addon(server, sock, accounts, say):
    if os.path.exists(flag):
        raise OSError("the add-on cannot start: " + Path(flag).read_text())
    say(f"add-on started in {os.getpid()}")
    async def stop():
        await accounts.close()
    return stop

sections = {
    "server": {"data_dir": data, "host": "127.0.0.1", "port": int(port), "workers": 2,
               "max_sessions": int(os.environ.get("MAX_SESSIONS", "2000")),
               **({"user": user} if user else {"allow_root": True})},
    "passive": {"ports": passive},
    "tls": {"implicit_port": int(implicit)},
    "metrics": {"listen": "127.0.0.1:0"},
    "admin": {"enabled": True, "port": 0},
}
def say(line):
    # one write per line: the workers share this pipe, and print() under PYTHONUNBUFFERED
    # writes the text and its newline apart, so another process's line could come between
    os.write(1, (line + "\\n").encode())

setup_logging("warning")
try:
    run(load_settings(None, sections), say, addon)
except WorkerStartError as exc:
    say(f"stopped: {exc}")
    sys.exit(1)
"""


class Supervised:
    """The script's process; ``fail`` (the flag's text) makes the add-on fail from the start."""

    def __init__(
        self, tmp_path: Path, fail: str | None, user: str | None = None, max_sessions: int = 2000
    ) -> None:
        # the add-on reads the flag as the serving user: in a directory that user can reach
        # (pytest's own are root's alone)
        self.flags = Path(tempfile.mkdtemp(prefix="pasv-test-flag-"))
        self.flags.chmod(0o755)
        self.flag = self.flags / "fail"
        if fail is not None:
            self.flag.write_text(fail)
        self.port = free_port()
        argv = [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(self.port)]
        argv += [str(free_port()), passive_range(), str(self.flag), *([user] if user else [])]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "MAX_SESSIONS": str(max_sessions)},
        )

    def until(self, pattern: str) -> list[str]:
        return _read_until(self.proc, pattern)

    def rest(self) -> str:
        """What it printed until it ended (it must end on its own)."""
        out, _ = self.proc.communicate(timeout=20)
        return out

    def crash_the_add_on_worker(self) -> None:
        """Kill the worker that runs the add-on, its replacements failing, until the first
        wait before the next attempt begins."""
        started = self.until(r"add-on started in \d+")[-1]
        self.crash(int(started.rsplit(" ", 1)[1]))

    def crash(self, pid: int) -> None:
        """``crash_the_add_on_worker`` once the add-on's worker ``pid`` is known to run."""
        self.flag.write_text("the store is busy")
        os.kill(pid, signal.SIGKILL)
        self.until(r"worker 0 could not start; trying again in 1 s")


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(
        fail: str | None = None, user: str | None = None, max_sessions: int = 2000
    ) -> Supervised:
        started.append(Supervised(tmp_path, fail, user, max_sessions))
        return started[-1]

    try:
        yield start
    finally:
        stop_all([s.proc for s in started])
        for each in started:
            shutil.rmtree(each.flags, ignore_errors=True)


def _connected(port: int) -> ftplib.FTP:
    ftp = ftplib.FTP()
    try:
        ftp.connect("127.0.0.1", port, timeout=10)
    except BaseException:
        ftp.close()  # refused: the server's reply was read, the socket is ours to close
        raise
    return ftp


def _banner(port: int) -> str:
    with ftplib.FTP() as ftp:
        return ftp.connect("127.0.0.1", port, timeout=10)


def test_a_worker_that_cannot_start_stops_the_first_start(
    supervise: Callable[..., Supervised],
) -> None:
    supervised = supervise("its database is unreachable")
    out = supervised.rest()
    assert supervised.proc.returncode == 1, out
    reason = "worker 0 could not start: the add-on cannot start: its database is unreachable"
    assert out.count(reason) == 1, out  # said once, in one line: no traceback, no retry loop
    assert "Traceback" not in out
    assert "starting a replacement" not in out and "trying again" not in out
    assert "stopped: worker 0 could not start (its reason is above)" in out


def test_a_replacement_that_cannot_start_is_retried_less_and_less_often(
    supervise: Callable[..., Supervised],
) -> None:
    supervised = supervise(None)
    supervised.crash_the_add_on_worker()
    os.kill(supervised.proc.pid, signal.SIGSTOP)  # the supervisor stays in its wait
    try:  # its listener is closed: every new client is worker 1's (none waits in a dead queue)
        assert all(_banner(supervised.port).startswith("220") for _ in range(16))
    finally:
        os.kill(supervised.proc.pid, signal.SIGCONT)
    seen = supervised.until(r"worker 0 could not start; trying again in 2 s")
    supervised.flag.unlink()  # the cause is gone: a later attempt starts
    seen += supervised.until(r"add-on started in \d+")
    delays = [float(m[1]) for line in seen if (m := re.search(r"trying again in ([\d.]+) s", line))]
    assert delays[0] == 2 and delays == sorted(delays), seen  # each wait at least the last
    assert all("Traceback" not in line for line in seen)
    assert _banner(supervised.port).startswith("220")
    assert supervised.proc.poll() is None  # it never stopped serving


def test_no_replacement_is_tried_once_the_server_stops(
    supervise: Callable[..., Supervised],
) -> None:
    supervised = supervise(None)
    supervised.crash_the_add_on_worker()
    os.kill(supervised.proc.pid, signal.SIGTERM)  # while it waits to try again
    out = supervised.rest()
    assert supervised.proc.returncode == 0, out
    assert "could not start" not in out, out  # no attempt after the stop


def test_a_dead_workers_sessions_stop_counting_while_its_replacement_waits(
    supervise: Callable[..., Supervised],
) -> None:
    """The server-wide session limit has room again as soon as a worker dies: its sessions are
    wiped from the shared counts before the wait for its replacement, not after."""
    limit = 40  # sessions spread over both workers: all 40 on worker 1 has a chance of 2**-40
    supervised = supervise(None, max_sessions=limit)
    started = supervised.until(r"add-on started in \d+")[-1]
    sessions = [_connected(supervised.port) for _ in range(limit)]
    try:
        with pytest.raises(ftplib.error_temp, match=r"^421"):  # the limit is reached
            _connected(supervised.port)
        supervised.crash(int(started.rsplit(" ", 1)[1]))
        os.kill(supervised.proc.pid, signal.SIGSTOP)  # held in its wait, worker 0 absent
        try:
            readable, _, _ = select.select([s.sock for s in sessions], [], [], 0)
            dead = [sock for sock in readable if sock.recv(1) == b""]  # ended with worker 0
            assert dead and len(dead) == len(readable), (len(dead), len(readable))
            admitted = []
            for _ in range(len(dead)):  # one new session in each slot the dead ones held
                admitted.append(_connected(supervised.port))
            sessions += admitted
            with pytest.raises(ftplib.error_temp, match=r"^421"):  # and not one more
                _connected(supervised.port)
        finally:
            os.kill(supervised.proc.pid, signal.SIGCONT)
    finally:
        for each in sessions:
            each.close()


@needs_root
def test_a_reload_while_a_replacement_waits_leaves_the_supervisor_serving(
    supervise: Callable[..., Supervised], system_user: pwd.struct_passwd
) -> None:
    """Started as root, the supervisor reads the certificate on SIGHUP and hands it to each
    live worker over its channel, also while it waits to start a replacement."""
    supervised = supervise(None, system_user.pw_name)
    supervised.crash_the_add_on_worker()
    os.kill(supervised.proc.pid, signal.SIGHUP)  # during the wait before the next attempt
    supervised.flag.unlink()
    seen = supervised.until(r"add-on started in \d+")  # the supervisor lived on
    assert all("Traceback" not in line for line in seen), seen
    assert _banner(supervised.port).startswith("220")
