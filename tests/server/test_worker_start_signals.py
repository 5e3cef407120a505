"""Signals that reach a worker while it is still starting: a SIGHUP (a reload after a log
rotation) is held until the worker handles it, then reloads; a SIGTERM still stops it.

The supervisor runs its real add-on interface (the admin API's) with an add-on that waits,
inside serve(), until the test writes a byte to a pipe: the worker is held there after its
fork and before its SIGHUP handler is installed, for as long as the test wants. The add-on's
audit log stand-in says when a reload reopens it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.support import _read_until, stop_all
from tests.support.live import passive_range
from tests.support.ports import free_port

SCRIPT = """
import asyncio, os, sys
from pasv.cli.common import setup_logging
from pasv.config import load_settings
from pasv.server.runner import run

data, port, implicit, passive, release, workers = sys.argv[1:7]

def say(line):
    os.write(1, (line + "\\n").encode())  # one write per line: the workers share this pipe

class Reopened:
    def reopen(self, fd=None):
        say(f"reopened in {os.getpid()}")

async def addon(server, sock, accounts, say):
    say(f"add-on starting in {os.getpid()}")
    loop = asyncio.get_running_loop()
    released = loop.create_future()
    loop.add_reader(int(release), released.set_result, None)
    await released
    loop.remove_reader(int(release))
    server.auditlog = Reopened()  # as the admin API's audit log: SIGHUP reopens it
    say(f"add-on started in {os.getpid()}")
    async def stop():
        await accounts.close()
    return stop

sections = {
    "server": {"data_dir": data, "host": "127.0.0.1", "port": int(port), "workers": int(workers),
               "allow_root": True},
    "passive": {"ports": passive},
    "tls": {"implicit_port": int(implicit)},
    "metrics": {"listen": "127.0.0.1:0"},
    "admin": {"enabled": True, "port": 0},
}
setup_logging("warning")
run(load_settings(None, sections), say, addon)
"""


class Held:
    """The script's process, its worker 0 held in the add-on's start (with one worker, the
    process itself: no supervisor)."""

    def __init__(self, tmp_path: Path, workers: int) -> None:
        read, self.release = os.pipe()
        argv = [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(free_port())]
        argv += [str(free_port()), passive_range(), str(read), str(workers)]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            pass_fds=(read,),
        )
        os.close(read)
        started = _read_until(self.proc, r"add-on starting in \d+")[-1]
        self.worker = int(started.rsplit(" ", 1)[1])  # worker 0, before its SIGHUP handler

    def let_go(self) -> None:
        with contextlib.suppress(BrokenPipeError):  # no process is left to read it
            os.write(self.release, b"x")


@pytest.fixture(params=[2])
def held(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Held]:
    server = Held(tmp_path, request.param)
    try:
        yield server
    finally:
        stop_all([server.proc])
        os.close(server.release)


@pytest.mark.parametrize("held", [2, 1], indirect=True, ids=["workers", "one-process"])
def test_a_sighup_while_a_worker_starts_reloads_it_once_it_serves(held: Held) -> None:
    """Before, the SIGHUP's default action ended the worker (a replacement started, and the
    reload, e.g. a log reopened after a rotation, was lost; a single-process server ended)."""
    os.kill(held.worker, signal.SIGHUP)  # as the supervisor forwards a reload
    held.let_go()
    lines = _read_until(held.proc, r"reopened in \d+|add-on starting in \d+")
    assert lines[-1] == f"reopened in {held.worker}", lines
    assert f"add-on started in {held.worker}" in lines
    assert held.proc.poll() is None


def test_a_sigterm_while_a_worker_starts_still_stops_the_server(held: Held) -> None:
    """The stop signals are not held: the starting worker ends at once (it serves nobody yet),
    the other drains, and no replacement is started."""
    os.kill(held.proc.pid, signal.SIGTERM)
    out, _ = held.proc.communicate(timeout=20)
    assert held.proc.returncode == 0, out
    assert "add-on start" not in out and "replacement" not in out, out
