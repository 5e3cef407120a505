"""IPv4 clients of an IPv6 admin listener (seen as ::ffff:a.b.c.d) are named by their IPv4
address: a trusted proxy written as IPv4 is trusted, the login throttle counts each client
apart, the audit log names it as the FTP server would, and a ban of a mapped address holds."""

from __future__ import annotations

import dataclasses
import ftplib
import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import pytest

from pasv.admin.peers import proxy_hosts, unmapped
from pasv.admin.security import LOGIN_FAILURES, LoginThrottle
from pasv.config import load_settings
from tests.admin.support import AdminServer, admin_server_fixture, wait_for
from tests.cli.support import Pasv

PASSWORD = "the-admins-password"
PROXY = "127.0.0.2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    # an IPv6 socket on the IPv4-mapped loopback address: every peer is ::ffff:127.x.y.z
    env = {"PASV_ADMIN_HOST": "::ffff:127.0.0.1", "PASV_ADMIN_TRUSTED_PROXIES": PROXY}
    for server in admin_server_fixture(tmp_path_factory.mktemp("mapped") / "data", env=env):
        pasv = Pasv(server.data)
        pasv.ok("group", "add", "admin")
        pasv.ok("user", "add", "boss", "--password", PASSWORD)
        pasv.ok("user", "set", "boss", "groups=admin")
        assert server.base.startswith("http://[::ffff:127.0.0.1]:")
        port = server.base.rsplit(":", 1)[1]  # reached over IPv4, from chosen sources
        yield dataclasses.replace(server, base=f"http://127.0.0.1:{port}")


def _audit(server: AdminServer, action: str) -> list[dict[str, Any]]:
    raw = (server.data / "admin-audit.log").read_text()
    return [e for e in map(json.loads, raw.splitlines()) if e["action"] == action]


def _login(server: AdminServer, source: str, password: str, forwarded: str = "") -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with server.client(source=source) as web:
        data = {"user": "boss", "password": password}
        return web.post("/console/login", data=data, headers=headers).status_code


def test_a_proxy_written_as_ipv4_is_trusted_when_seen_mapped(server: AdminServer) -> None:
    for guess in range(LOGIN_FAILURES):
        assert _login(server, PROXY, f"guess{guess}", forwarded="198.51.100.1") == 200
    assert _login(server, PROXY, PASSWORD, forwarded="198.51.100.1") == 429
    assert _login(server, PROXY, PASSWORD, forwarded="198.51.100.2") == 303  # its own count
    addresses = {e["address"] for e in _audit(server, "console.login")}
    assert {"198.51.100.1", "198.51.100.2"} <= addresses
    assert not {a for a in addresses if a.startswith("::ffff:") or a == PROXY}


def test_ipv4_clients_are_counted_and_audited_each_by_its_address(server: AdminServer) -> None:
    for guess in range(LOGIN_FAILURES):
        assert _login(server, "127.0.0.4", f"guess{guess}") == 200
    assert _login(server, "127.0.0.4", PASSWORD) == 429
    assert _login(server, "127.0.0.5", PASSWORD) == 303  # not in 127.0.0.4's count
    # X-Forwarded-For from a client that is not a proxy is still ignored
    assert _login(server, "127.0.0.6", PASSWORD, forwarded="198.51.100.9") == 303
    mine = [
        e for e in _audit(server, "console.login") if e["address"] in {"127.0.0.4", "127.0.0.5"}
    ]
    assert len(mine) == LOGIN_FAILURES + 2
    assert "198.51.100.9" not in {e["address"] for e in _audit(server, "console.login")}


def test_a_ban_of_a_mapped_address_refuses_its_ipv4_client(server: AdminServer) -> None:
    with server.api() as api:
        allow = {"settings": {"ban_allowlist": "127.0.0.1/32"}}  # loopback is exempt by default
        assert api.patch("/api/v1/policy", json=allow).status_code == 200
        body = {"address": "::ffff:127.0.0.11", "minutes": 5, "reason": "mapped"}
        r = api.post("/api/v1/bans", json=body)
        assert r.status_code == 201, r.text
        assert [b["address"] for b in api.get("/api/v1/bans").json()] == ["127.0.0.11"]

        def refused() -> str | None:
            try:
                server.ftp(source="127.0.0.11").quit()
            except ftplib.error_temp as exc:
                return str(exc)
            return None

        assert "mapped" in wait_for(refused, what="the ban to apply")
        assert api.delete("/api/v1/bans/::ffff:127.0.0.11").status_code == 200
        assert api.get("/api/v1/bans").json() == []
        api.patch("/api/v1/policy", json={"unset": ["ban_allowlist"]})


def test_an_ip_rule_on_a_mapped_network_refuses_its_ipv4_clients(server: AdminServer) -> None:
    with server.api() as api:
        rule = {"action": "deny", "network": "::ffff:127.0.0.12/128"}
        r = api.post("/api/v1/ip-rules", json=rule)
        assert r.status_code == 201, r.text
        assert r.json()["network"] == "127.0.0.12/32"

        def refused() -> str | None:
            try:
                server.ftp(source="127.0.0.12").quit()
            except ftplib.error_temp as exc:
                return str(exc)
            return None

        text = wait_for(refused, what="the IP rule to apply")
        assert text.startswith("421 Your address 127.0.0.12 is not allowed")
        server.ftp(source="127.0.0.13").quit()  # the others are not refused
        assert api.delete(f"/api/v1/ip-rules/{r.json()['id']}").status_code == 200


def test_mapped_addresses_are_normalised_where_they_are_compared() -> None:
    assert unmapped("::ffff:192.0.2.1") == "192.0.2.1"
    assert unmapped("2001:DB8::1") == "2001:db8::1" and unmapped("-") == "-"
    assert proxy_hosts([ipaddress.ip_network("10.0.1.0/28")]) == [
        "10.0.1.0/28",
        "::ffff:10.0.1.0/124",
    ]
    throttle = LoginThrottle(limit=1)
    throttle.begin("::ffff:192.0.2.1")
    assert throttle.wait("192.0.2.1") > 0  # one count, however the address is written
    assert throttle.wait("::ffff:192.0.2.2") == 0  # not one /64 for every IPv4 client
    environ = {"PASV_ADMIN_TRUSTED_PROXIES": "::ffff:10.0.0.2, ::ffff:10.0.1.0/120, ::1"}
    settings = load_settings(None, None, environ=environ)
    assert [str(n) for n in settings.admin.trusted_proxies] == [
        "10.0.0.2/32",
        "10.0.1.0/24",
        "::1/128",
    ]
    # the IPv4-mapped loopback address is loopback: plain HTTP on it is allowed
    assert load_settings(None, None, environ={"PASV_ADMIN_HOST": "::ffff:127.0.0.1"}).admin.enabled
