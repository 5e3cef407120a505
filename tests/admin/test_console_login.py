"""Console logins: password guessing is throttled per address and name, every login is
audited."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from pasv.admin.security import ADDRESS_FAILURES, LOGIN_FAILURES, LoginThrottle
from tests.admin.support import AdminServer, admin_server_fixture
from tests.cli.support import Pasv

PASSWORD = "the-admins-password"
MEMBER, MEMBERS_PASSWORD = "mallory", "mallorys-own-password"  # also in the console group


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    for server in admin_server_fixture(tmp_path_factory.mktemp("login") / "data"):
        pasv = Pasv(server.data)
        pasv.ok("group", "add", "admin")
        pasv.ok("user", "add", "boss", "--password", PASSWORD)
        pasv.ok("user", "set", "boss", "groups=admin")
        pasv.ok("user", "add", MEMBER, "--password", MEMBERS_PASSWORD)
        pasv.ok("user", "set", MEMBER, "groups=admin")
        yield server


def _login(server: AdminServer, source: str, name: str, password: str) -> httpx.Response:
    with server.client(source=source) as web:
        return web.post("/console/login", data={"user": name, "password": password})


def test_password_guesses_are_throttled_and_a_token_still_gets_in(server: AdminServer) -> None:
    with server.client() as web:
        for guess in range(LOGIN_FAILURES):
            # a client on loopback naming itself another address gets no new attempts by it
            spoofed = {"X-Forwarded-For": f"198.51.100.{guess}", "X-Real-IP": "203.0.113.1"}
            data = {"user": "boss", "password": f"guess{guess}"}
            r = web.post("/console/login", data=data, headers=spoofed)
            assert r.status_code == 200 and "Login failed" in r.text
        # the right password is not even checked now: the address has used its attempts
        r = web.post("/console/login", data={"user": "boss", "password": PASSWORD})
        assert r.status_code == 429 and "Too many failed logins" in r.text
        assert int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers
        r = web.post("/console/login", data={"token": server.write_token})
        assert r.status_code == 303
    raw = (server.data / "admin-audit.log").read_text()
    logins = [json.loads(line) for line in raw.splitlines() if "console.login" in line]
    refused = [e for e in logins if e["target"] == "boss" and e["result"] == "refused"]
    assert len(refused) == LOGIN_FAILURES + 1 and refused[0]["actor"] == "user:boss"
    assert {e["address"] for e in refused} == {"127.0.0.1"}  # the peer, not what it claimed
    assert any(e["actor"] == "token:1:ops" and e["result"] == "ok" for e in logins)
    assert PASSWORD not in raw and "guess0" not in raw and server.write_token not in raw


def test_the_throttle_counts_parallel_attempts_and_forgets_old_failures() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    assert [throttle.begin("192.0.2.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.begin("192.0.2.1") == 60  # three in flight or failed: the fourth waits
    assert throttle.begin("192.0.2.2") == 0.0  # another address has its own count
    # an IPv6 client cannot get new attempts by changing the low bits of its address
    for host in range(3):
        assert throttle.begin(f"2001:db8::{host + 1}") == 0.0
    assert throttle.begin("2001:db8::ffff") > 0
    now[0] += 61
    assert throttle.begin("192.0.2.1") == 0.0
    throttle.succeeded("192.0.2.1")  # a success takes its address's failures back
    assert [throttle.begin("192.0.2.1") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_members_own_login_does_not_reset_the_guesses_at_another_account(
    server: AdminServer,
) -> None:
    source = "127.0.0.7"
    for guess in range(LOGIN_FAILURES - 1):
        assert _login(server, source, "boss", f"guess{guess}").status_code == 200
    assert _login(server, source, MEMBER, MEMBERS_PASSWORD).status_code == 303  # gets in
    assert _login(server, source, "boss", "one-more-guess").status_code == 200
    # boss's count from this address is full: even the right password is not checked
    r = _login(server, source, "boss", PASSWORD)
    assert r.status_code == 429 and "Too many failed logins as boss" in r.text
    assert int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers
    # the member's own count was cleared by the member's own login only
    assert _login(server, source, MEMBER, MEMBERS_PASSWORD).status_code == 303


def test_others_failures_from_an_address_do_not_lock_out_another_name(
    server: AdminServer,
) -> None:
    source = "127.0.0.8"
    for guess in range(LOGIN_FAILURES):
        assert _login(server, source, MEMBER, f"guess{guess}").status_code == 200
    assert _login(server, source, MEMBER, MEMBERS_PASSWORD).status_code == 429
    assert _login(server, source, "boss", PASSWORD).status_code == 303


def test_failures_for_many_names_from_one_address_are_bounded_together(
    server: AdminServer,
) -> None:
    source = "127.0.0.9"
    names = [f"someone{n}" for n in range(ADDRESS_FAILURES // (LOGIN_FAILURES - 1))]
    for name in names:  # each name stays under its own limit
        for guess in range(LOGIN_FAILURES - 1):
            assert _login(server, source, name, f"guess{guess}").status_code == 200
    r = _login(server, source, "boss", PASSWORD)  # a name never tried from here
    assert r.status_code == 429 and "Too many failed logins from your address" in r.text
    assert _login(server, "127.0.0.10", "boss", PASSWORD).status_code == 303


def test_a_success_takes_back_only_its_own_names_failures() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=2, window=60, clock=lambda: now[0], address_limit=3)
    assert [throttle.begin("192.0.2.1", "boss") for _ in range(2)] == [0.0, 0.0]
    assert throttle.begin("192.0.2.1", "boss") == 60
    assert throttle.begin("192.0.2.1", "eve") == 0.0  # the address's third
    throttle.succeeded("192.0.2.1", "eve")
    assert throttle.wait("192.0.2.1", "boss") == 60  # eve's success left boss's count
    assert throttle.begin("192.0.2.1", "carol") == 0.0  # eve's attempt was taken back
    assert throttle.begin("192.0.2.1", "dave") > 0 and throttle.address_wait("192.0.2.1") > 0
    # names longer than any account's share one count
    long = "x" * 100
    assert [throttle.begin("192.0.2.2", long + str(n)) for n in range(3)] == [0.0, 0.0, 60]
