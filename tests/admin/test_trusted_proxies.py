"""admin.trusted_proxies: behind a reverse proxy each console client has its own address (for
the login throttle and the audit log), taken from X-Forwarded-For only when the peer is a
trusted proxy; anyone else's X-Forwarded-For is ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pasv.admin.security import LOGIN_FAILURES
from pasv.config import ConfigError, load_settings
from tests.admin.support import AdminServer, admin_server_fixture
from tests.cli.support import Pasv

PASSWORD = "the-admins-password"
PROXY, PROXIES = "127.0.0.2", "127.0.1.0/24"  # one address, one network


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    env = {"PASV_ADMIN_TRUSTED_PROXIES": f"{PROXY}, {PROXIES}"}
    for server in admin_server_fixture(tmp_path_factory.mktemp("proxied") / "data", env=env):
        pasv = Pasv(server.data)
        pasv.ok("group", "add", "admin")
        pasv.ok("user", "add", "boss", "--password", PASSWORD)
        pasv.ok("user", "set", "boss", "groups=admin")
        yield server


def _audit(server: AdminServer) -> list[dict[str, Any]]:
    raw = (server.data / "admin-audit.log").read_text()
    return [json.loads(line) for line in raw.splitlines()]


def _guess(server: AdminServer, source: str, forwarded: str, password: str) -> int:
    with server.client(source=source) as web:
        r = web.post(
            "/console/login",
            data={"user": "boss", "password": password},
            headers={"X-Forwarded-For": forwarded},
        )
        return r.status_code


def test_clients_behind_a_trusted_proxy_are_throttled_each_by_its_own_address(
    server: AdminServer,
) -> None:
    for guess in range(LOGIN_FAILURES):
        assert _guess(server, PROXY, "198.51.100.1", f"guess{guess}") == 200
    assert _guess(server, PROXY, "198.51.100.1", PASSWORD) == 429
    # another client through the same proxy still has its attempts, and gets in
    assert _guess(server, PROXY, "198.51.100.2", "wrong") == 200
    assert _guess(server, PROXY, "198.51.100.2", PASSWORD) == 303
    logins = [e for e in _audit(server) if e["action"] == "console.login"]
    first = [e for e in logins if e["address"] == "198.51.100.1"]
    assert [e["result"] for e in first] == ["refused"] * (LOGIN_FAILURES + 1)
    second = [e["result"] for e in logins if e["address"] == "198.51.100.2"]
    assert second == ["refused", "ok"]
    assert not [e for e in logins if e["address"] == PROXY]


def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(
    server: AdminServer,
) -> None:
    # the client wrote 203.0.113.9 itself; the outer proxy (trusted, in the network) saw
    # 198.51.100.3 and the inner one, 127.0.0.2, appended the outer's address
    forwarded = f"203.0.113.9, 198.51.100.3, {PROXY}"
    with server.client(server.write_token, source="127.0.1.5") as api:
        r = api.post(
            "/api/v1/bans",
            json={"address": "192.0.2.77", "minutes": 5, "reason": "test"},
            headers={"X-Forwarded-For": forwarded},
        )
        assert r.status_code == 201, r.text
    banned = [e for e in _audit(server) if e["action"] == "ban.add"]
    assert [e["address"] for e in banned] == ["198.51.100.3"]


def test_x_forwarded_for_from_anyone_else_is_ignored(server: AdminServer) -> None:
    claimed = [f"198.51.100.{10 + guess}" for guess in range(LOGIN_FAILURES + 1)]
    for guess in range(LOGIN_FAILURES):  # each guess names another address: all are 127.0.0.3
        assert _guess(server, "127.0.0.3", claimed[guess], f"guess{guess}") == 200
    assert _guess(server, "127.0.0.3", claimed[-1], PASSWORD) == 429
    audit = _audit(server)
    assert len([e for e in audit if e["address"] == "127.0.0.3"]) == LOGIN_FAILURES + 1
    assert not [e for e in audit if e["address"] in claimed]


@pytest.mark.parametrize(("source", "secure"), [(PROXY, True), ("127.0.0.4", False)])
def test_the_cookie_is_secure_when_a_trusted_proxy_says_https(
    server: AdminServer, source: str, secure: bool
) -> None:
    with server.client(source=source) as web:
        r = web.post(
            "/console/login",
            data={"token": server.read_token},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.50"},
        )
    assert r.status_code == 303
    assert ("secure" in r.headers["set-cookie"].lower()) is secure


def test_the_setting_takes_addresses_and_networks_and_names_a_bad_one() -> None:
    assert load_settings(None, None, environ={}).admin.trusted_proxies == ()
    environ = {"PASV_ADMIN_TRUSTED_PROXIES": "192.0.2.5, 2001:db8::/64"}
    proxies = load_settings(None, None, environ=environ).admin.trusted_proxies
    assert [str(net) for net in proxies] == ["192.0.2.5/32", "2001:db8::/64"]
    for bad, message in [
        (["192.0.2.5/24"], "admin.trusted_proxies: 192.0.2.5/24 has host bits set"),
        (["proxy.example"], "does not appear to be an IPv4 or IPv6 network"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_settings(None, {"admin": {"trusted_proxies": bad}}, environ={})
