"""The admin listener asks the account database beside the FTP server's loop, never in it:
with PostgreSQL a table lock another client holds makes a query wait, and only the request
that asked waits with it (FTP sessions on the same worker are answered meanwhile)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.admin.support import wait_for
from tests.cli import support
from tests.cluster.support import PASSWORD, USER, pasv_cli, start_node

stop = support.stop
ROOT = ("--allow-root",) if os.geteuid() == 0 else ()
Ask = Callable[[httpx.Client, str], httpx.Response]


def _waiting_on_a_lock(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _page(web: httpx.Client, csrf: str) -> httpx.Response:
    return web.get("/console/")


def _status(web: httpx.Client, csrf: str) -> httpx.Response:
    return web.get("/api/v1/status")


def _ban(web: httpx.Client, csrf: str) -> httpx.Response:
    return web.post("/console/bans/add", data={"address": "192.0.2.9", "csrf": csrf})


@pytest.mark.parametrize(
    ("login", "table", "ask", "answer"),
    [
        ("token", "admin_tokens", _page, 200),  # is the login's token still there?
        ("account", "users", _page, 200),  # is the login's account unchanged?
        ("api", "bans", _status, 200),  # a route's own read
        ("token", "bans", _ban, 303),  # a console form's write
    ],
)
def test_a_request_waiting_on_the_database_does_not_hold_ftp(
    pg_url: str,
    tmp_path: Path,
    stop: list[subprocess.Popen[str]],
    login: str,
    table: str,
    ask: Ask,
    answer: int,
) -> None:
    data = tmp_path / "data"
    pasv_cli(pg_url, data, "user", "add", USER, "--password", PASSWORD)
    pasv_cli(pg_url, data, "group", "add", "admin")
    pasv_cli(pg_url, data, "user", "set", USER, "groups=admin")
    out = pasv_cli(pg_url, data, "admin", "token", "create", "ops", "--scopes", "read,write")
    token = out.strip().splitlines()[-1]
    node = start_node("A", pg_url, data, stop, "--admin", "--admin-port", "0", *ROOT)
    line = node.wait_for(r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", line)[1]  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"} if login == "api" else {}
    form = {"token": token} if login == "token" else {"user": USER, "password": PASSWORD}
    ftp = node.login()
    with (
        httpx.Client(base_url=base, timeout=60, headers=headers) as web,
        psycopg.connect(pg_url) as blocker,
    ):
        csrf = ""
        if login != "api":
            assert web.post("/console/login", data=form).status_code == 303
            found = re.search(r'name="csrf" value="([^"]+)"', web.get("/console/bans").text)
            csrf = found[1] if found else ""
        # the transaction holds the table until it is rolled back: the request's query waits
        blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        answers: list[int] = []
        asking = threading.Thread(target=lambda: answers.append(ask(web, csrf).status_code))
        asking.start()
        try:
            wait_for(lambda: _waiting_on_a_lock(pg_url), 20, "the request's query to wait")
            assert ftp.voidcmd("NOOP").startswith("200")  # answered while the request waits
            assert not answers  # the request is still waiting on the lock
        finally:
            blocker.rollback()
            asking.join(60)
            ftp.close()
        assert answers == [answer]
