"""The admin API of one node of a cluster shows and manages every node: sessions (with their
node's name), kicks delivered to the owning node, and bans made or lifted on any node."""

from __future__ import annotations

import ftplib
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.admin.support import error_of, wait_for
from tests.cli import support
from tests.cluster.support import PASSWORD, USER, Node, pasv_cli, start_node

stop = support.stop
ROOT = ("--allow-root",) if os.geteuid() == 0 else ()


@pytest.fixture
def data(tmp_path: Path, pg_url: str) -> Path:
    folder = tmp_path / "data"
    pasv_cli(pg_url, folder, "user", "add", USER, "--password", PASSWORD)
    return folder


def _api(url: str, data: Path, node: Node) -> httpx.Client:
    """The admin API of ``node`` (started with ``--admin --admin-port 0``), with a write token."""
    line = node.wait_for(r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", line)[1]  # type: ignore[index]
    token = pasv_cli(url, data, "admin", "token", "create", f"ops-{node.name}", "--scopes",
                     "read,write").strip().splitlines()[-1]  # fmt: skip
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _start(url: str, data: Path, stop: list[subprocess.Popen[str]]) -> tuple[httpx.Client, Node]:
    a = start_node("A", url, data, stop, "--admin", "--admin-port", "0", *ROOT)
    b = start_node("B", url, data, stop, *ROOT)
    return _api(url, data, a), b


def test_a_session_on_another_node_is_listed_with_its_node_and_kicked_there(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    api, b = _start(pg_url, data, stop)
    with api:
        _kick_across(api, b)


def _kick_across(api: httpx.Client, b: Node) -> None:
    on_b = b.login("127.0.0.3")
    try:
        listed = api.get("/api/v1/sessions").json()
        mine = [s for s in listed if s["address"] == "127.0.0.3"]
        assert [(s["node"], s["user"]) for s in mine] == [("B", USER)], listed
        assert mine[0]["id"].startswith("B:")
        token = api.headers["Authorization"].removeprefix("Bearer ")
        with httpx.Client(base_url=api.base_url, timeout=10) as web:
            web.post("/console/login", data={"token": token})
            page = web.get("/console/").text
        assert "<th>Node</th>" in page and '<td class="node">B</td>' in page, page
        kicked = api.delete(f"/api/v1/sessions/{mine[0]['id']}")
        assert kicked.status_code == 200, kicked.text
        with pytest.raises(ftplib.error_temp) as ended:  # the reply node B sends unasked
            on_b.getresp()
        assert str(ended.value).startswith("421 Your session was ended by the administrator")
    finally:
        on_b.close()
    wait_for(
        lambda: not [s for s in api.get("/api/v1/sessions").json() if s["node"] == "B"],
        20,
        "node B's session to leave the table",
    )
    gone = api.delete("/api/v1/sessions/Z:0:1")  # no node Z in the cluster
    assert gone.status_code == 404
    assert "not in the cluster" in str(error_of(gone)), gone.text


def test_a_ban_on_another_node_is_listed_and_lifted_through_this_one(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    pasv_cli(pg_url, data, "policy", "set", "ban_allowlist=", "hammer_failures=2")
    api, b = _start(pg_url, data, stop)
    with api:
        _ban_across(api, b)


def _ban_across(api: httpx.Client, b: Node) -> None:
    assert api.get("/api/v1/bans").json() == []
    # the token's first use is written (and announced) too: that reload is not the lift's
    b.wait_for(r"policy reloaded \(changed by admin API\)")
    with b.connect("127.0.0.4") as ftp:
        with pytest.raises(ftplib.error_perm):
            ftp.login(USER, "wrong")
        with pytest.raises(ftplib.error_temp):
            ftp.login(USER, "wrong")
    bans = wait_for(
        lambda: [x for x in api.get("/api/v1/bans").json() if x["address"] == "127.0.0.4"],
        10,
        "node B's ban in node A's list",
    )
    assert len(bans) == 1, bans
    assert b.refused_greeting("127.0.0.4").startswith("421")
    lifted = api.delete("/api/v1/bans/127.0.0.4")
    assert lifted.status_code == 200, lifted.text
    b.wait_for(r"policy reloaded \(changed by admin API\)")
    with b.login("127.0.0.4") as again:
        assert again.pwd() == "/"
