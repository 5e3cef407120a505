"""Failed tokens are throttled per client address, on the API and on the console's login form,
as console passwords are: past the limit, 429 with Retry-After and the token not looked up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pasv.admin.security import LOGIN_FAILURES
from tests.admin.support import AdminServer, admin_server_fixture, error_of
from tests.cli.support import Pasv

PASSWORD = "the-admins-password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    for server in admin_server_fixture(tmp_path_factory.mktemp("tokens") / "data"):
        pasv = Pasv(server.data)
        pasv.ok("group", "add", "admin")
        pasv.ok("user", "add", "boss", "--password", PASSWORD)
        pasv.ok("user", "set", "boss", "groups=admin")
        yield server


def _audit(server: AdminServer, address: str) -> list[dict[str, Any]]:
    raw = (server.data / "admin-audit.log").read_text()
    return [e for e in map(json.loads, raw.splitlines()) if e["address"] == address]


def _revoked_token(server: AdminServer) -> str:
    pasv = Pasv(server.data)
    out = pasv.ok("admin", "token", "create", "old")
    number = out.split("Created token ")[1].split()[0]
    pasv.ok("admin", "token", "revoke", number)
    return out.strip().splitlines()[-1]


def test_api_tokens_that_fail_are_throttled_per_address(server: AdminServer) -> None:
    source = "127.0.0.5"
    guesses = [_revoked_token(server)] + [f"pasv_guess{n}" for n in range(LOGIN_FAILURES - 1)]
    for guess in guesses:
        with server.client(guess, source=source) as api:
            assert api.get("/api/v1/status").status_code == 401
    # now even the right token is refused unchecked, with the time to wait
    with server.client(server.read_token, source=source) as api:
        r = api.get("/api/v1/status")
    assert r.status_code == 429, r.text
    assert "too many failed tokens from 127.0.0.5" in error_of(r)
    assert 0 < int(r.headers["retry-after"]) <= 300
    with server.client(server.read_token, source="127.0.0.6") as api:  # another address
        assert api.get("/api/v1/status").status_code == 200
    audited = _audit(server, source)
    assert [(e["action"], e["result"]) for e in audited] == [("api.token", "refused")] * len(
        guesses
    )
    assert audited[0]["actor"].endswith(":old") and audited[1]["actor"] == "unknown token"
    assert audited[0]["target"] == "GET /api/v1/status"
    assert "throttled" in audited[-1]["detail"] and "throttled" not in audited[-2]["detail"]
    raw = (server.data / "admin-audit.log").read_text()
    assert not [g for g in guesses if g in raw]


def test_console_token_logins_share_the_count_and_passwords_keep_theirs(
    server: AdminServer,
) -> None:
    source = "127.0.0.7"
    with server.client(source=source) as web:
        for n in range(LOGIN_FAILURES):
            r = web.post("/console/login", data={"token": f"pasv_guess{n}"})
            assert r.status_code == 200 and "Login failed" in r.text
        r = web.post("/console/login", data={"token": server.write_token})
        assert r.status_code == 429 and "Too many unknown or revoked tokens" in r.text
        assert int(r.headers["retry-after"]) > 0 and "set-cookie" not in r.headers
        # the API counts the same failures; a password login is counted apart
        with server.client(server.read_token, source=source) as api:
            assert api.get("/api/v1/status").status_code == 429
        r = web.post("/console/login", data={"user": "boss", "password": PASSWORD})
        assert r.status_code == 303
    logins = [e for e in _audit(server, source) if e["action"] == "console.login"]
    refused = [e for e in logins if e["result"] == "refused"]
    assert len(refused) == LOGIN_FAILURES and {e["actor"] for e in refused} == {"unknown token"}
    assert [e["actor"] for e in logins if e["result"] == "ok"] == ["user:boss"]
