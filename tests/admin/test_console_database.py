"""The console asks the account database whether a login still stands beside the FTP server's
loop, never in it: with PostgreSQL a row lock another client holds makes that query wait, and
only the page waits with it (FTP sessions on the same worker are answered meanwhile)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.admin.support import wait_for
from tests.cli import support
from tests.cluster.support import PASSWORD, USER, pasv_cli, start_node

stop = support.stop
ROOT = ("--allow-root",) if os.geteuid() == 0 else ()


def _waiting_on_a_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(("login", "table"), [("token", "admin_tokens"), ("account", "users")])
def test_a_console_page_waiting_on_the_database_does_not_hold_ftp(
    pg_url: str, tmp_path: Path, stop: list[subprocess.Popen[str]], login: str, table: str
) -> None:
    data = tmp_path / "data"
    pasv_cli(pg_url, data, "user", "add", USER, "--password", PASSWORD)
    pasv_cli(pg_url, data, "group", "add", "admin")
    pasv_cli(pg_url, data, "user", "set", USER, "groups=admin")
    token = pasv_cli(pg_url, data, "admin", "token", "create", "viewer").strip().splitlines()[-1]
    node = start_node("A", pg_url, data, stop, "--admin", "--admin-port", "0", *ROOT)
    line = node.wait_for(r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", line)[1]  # type: ignore[index]
    form = {"token": token} if login == "token" else {"user": USER, "password": PASSWORD}
    ftp = node.login()
    with httpx.Client(base_url=base, timeout=60) as web, psycopg.connect(pg_url) as blocker:
        assert web.post("/console/login", data=form).status_code == 303
        # the transaction holds the table until it is rolled back: the console's query waits
        blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        answers: list[int] = []
        page = threading.Thread(target=lambda: answers.append(web.get("/console/").status_code))
        page.start()
        try:
            wait_for(lambda: _waiting_on_a_lock(pg_url), 20, "the console's query to wait")
            assert ftp.voidcmd("NOOP").startswith("200")  # answered while the page waits
            assert not answers  # the page is still waiting on the lock
        finally:
            blocker.rollback()
            page.join(60)
            ftp.close()
        assert answers == [200]
