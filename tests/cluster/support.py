"""Two (or more) `pasv serve` nodes on one PostgreSQL database and one data folder."""

from __future__ import annotations

import ftplib
import os
import re
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.cli.support import _free_port, _read_until, _serve

USER, PASSWORD = "alice", "pw-alice"
HEARTBEAT = 6.0  # seconds: a node silent this long is dead (nodes beat every 2 s)


def pasv_cli(url: str, data: Path, *args: str) -> str:
    """`pasv ARGS` against the PostgreSQL store (PASV_ACCOUNTS_URL, as an operator would)."""
    result = CliRunner().invoke(
        app, [*args, "--data-dir", str(data)], env={"PASV_ACCOUNTS_URL": url}
    )
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


class Node:
    """One running node: its name, port, process, and its log read line by line."""

    def __init__(self, name: str, port: int, proc: subprocess.Popen[str]) -> None:
        self.name, self.port, self.proc = name, port, proc

    def wait_for(self, pattern: str, timeout: float = 20) -> str:
        """The next log line matching ``pattern`` (bounded in time)."""
        return _read_until(self.proc, pattern, timeout)[-1]

    def connect(self, source: str = "127.0.0.1") -> ftplib.FTP:
        ftp = ftplib.FTP(source_address=(source, 0))
        ftp.connect("127.0.0.1", self.port, timeout=15)
        return ftp

    def refused_greeting(self, source: str) -> str:
        """The 421 a new connection from ``source`` is greeted with (fails if let in)."""
        ftp = ftplib.FTP(source_address=(source, 0))
        try:
            ftp.connect("127.0.0.1", self.port, timeout=15)
        except ftplib.error_temp as exc:
            return str(exc)
        finally:
            ftp.close()
        raise AssertionError("the connection was accepted")

    def login(self, source: str = "127.0.0.1") -> ftplib.FTP:
        ftp = self.connect(source)
        ftp.login(USER, PASSWORD)
        return ftp


def start_node(
    name: str, url: str, data: Path, stop: list[subprocess.Popen[str]], *extra: str
) -> Node:
    """A node that has joined the cluster (a port taken meanwhile: started again, bounded)."""
    env = {**os.environ, "PASV_CLUSTER_HEARTBEAT": str(HEARTBEAT)}
    for _ in range(3):
        port = _free_port()
        proc = _serve(
            data, port, "--db", url, "--node", name, "--log-level", "info", *extra, env=env
        )
        stop.append(proc)
        line = _read_until(proc, r"joined the cluster as node|Cannot start", 60)[-1]
        if "Cannot start" not in line:
            assert re.search(rf"node {re.escape(name)}\b", line), line
            return Node(name, port, proc)
        proc.wait(10)
    raise AssertionError("no free port to start on")
