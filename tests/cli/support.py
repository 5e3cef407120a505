"""Shared by the CLI tests: run `pasv serve` as a real process and read what it prints."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.live import passive_range
from tests.support.ports import free_port as _free_port
from typer.testing import CliRunner, Result

from pasv.accounts.sqlite import SqliteAccountStore
from pasv.cli.main import app

PASV = [sys.executable, "-m", "pasv"]


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 20) -> list[str]:
    """Lines of the server's stdout up to the first that matches (bounded in time)."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in: {lines}")


def _serve(
    data: Path, port: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    argv = [*PASV, "serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--passive-ports", passive_range(), "--log-level", "warning"]
    if "--implicit-port" not in extra:  # never the shared default 9990 in tests
        argv += ["--implicit-port", str(_free_port())]
    if "--metrics-listen" not in extra:  # nor the default 9121: a port from the kernel
        argv += ["--metrics-listen", "127.0.0.1:0"]
    if "--admin" not in extra:  # nor the admin API's 127.0.0.1:8021, one port for the machine
        argv += ["--no-admin"]
    argv += extra
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    )


def stop_all(procs: list[subprocess.Popen[str]]) -> None:
    """SIGTERM to each process group, SIGKILL after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    stop_all(procs)


class Pasv:
    """`pasv ... --data-dir DATA` run in-process; each call's exit status and output."""

    runner = CliRunner()

    def __init__(self, data: Path) -> None:
        self.data = data

    def init(self) -> Pasv:
        """An empty store in the data directory, as `pasv serve` leaves it (management commands
        refuse a directory without one)."""
        self.data.mkdir(parents=True, exist_ok=True)
        asyncio.run(SqliteAccountStore(self.data / "accounts.sqlite3").close())
        return self

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, [*args, "--data-dir", str(self.data)])

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def export(self) -> str:
        return self.ok("policy", "export")


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="starts pasv as root and creates a Linux user: needs root"
)


@pytest.fixture
def system_user() -> Iterator[pwd.struct_passwd]:
    """A Linux system user of its own (unique: the tests run in parallel), removed afterwards."""
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel are not installed")
    name = f"pasvt{secrets.token_hex(5)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
