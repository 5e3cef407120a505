"""The command line with PostgreSQL: an unreachable database stops `pasv serve` with its reason
(no password shown); `pasv user` and `pasv cluster` work on PASV_ACCOUNTS_URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.cli.support import Pasv, _free_port
from tests.cluster.support import pasv_cli


def test_serve_stops_with_the_reason_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql://pasv:hunter2@127.0.0.1:{_free_port()}/pasv"
    result = subprocess.run(
        [sys.executable, "-m", "pasv", "serve", "--data-dir", str(tmp_path / "d"), "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    shown = " ".join((result.stdout + result.stderr).split())
    assert "Cannot start:" in shown and "cannot be reached" in shown
    assert "postgresql://pasv:****@127.0.0.1" in shown
    assert "hunter2" not in shown


def test_user_and_cluster_commands_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    pasv_cli(pg_url, data, "user", "add", "alice", "--password", "pw")
    assert "alice" in pasv_cli(pg_url, data, "user", "list")
    assert "connections" in pasv_cli(pg_url, data, "cluster", "nodes")
    assert not (data / "accounts.sqlite3").exists()  # nothing was written to SQLite


def test_cluster_commands_say_when_there_is_no_cluster(tmp_path: Path) -> None:
    Pasv(tmp_path).init()  # a SQLite store, as `pasv serve` leaves it (none at all is refused)
    result = CliRunner().invoke(app, ["cluster", "sessions", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no cluster" in result.output
