"""The admin API against a real `pasv serve`: every resource, auth failures, bad input."""

from __future__ import annotations

import ftplib
import io
import json
from collections.abc import Iterator

import pytest

from tests.admin.support import AdminServer, admin_server_fixture, error_of, wait_for
from tests.cli.support import Pasv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("admin") / "data")


# --- authentication -------------------------------------------------------------------------
def test_no_token_unknown_token_and_wrong_scope_are_refused(server: AdminServer) -> None:
    with server.client() as anon:
        r = anon.get("/api/v1/users")
        assert r.status_code == 401 and "Authorization: Bearer" in error_of(r)
        assert r.headers["www-authenticate"] == "Bearer"
    with server.client("pasv_not-a-real-token") as wrong:
        assert wrong.get("/api/v1/users").status_code == 401
    with server.client(server.read_token) as viewer:
        assert viewer.get("/api/v1/users").status_code == 200
        r = viewer.post("/api/v1/groups", json={"name": "sneaky"})
        assert r.status_code == 403 and "needs write" in error_of(r)
    with server.api() as api:
        assert all(g["name"] != "sneaky" for g in api.get("/api/v1/groups").json())


def test_a_revoked_token_is_refused_from_the_next_request(server: AdminServer) -> None:
    pasv = Pasv(server.data)
    out = pasv.ok("admin", "token", "create", "temp", "--scopes", "read")
    secret = out.strip().splitlines()[-1]
    number = out.split("Created token ")[1].split()[0]
    with server.client(secret) as temp:
        assert temp.get("/api/v1/status").status_code == 200
        pasv.ok("admin", "token", "revoke", number)
        r = temp.get("/api/v1/status")
        assert r.status_code == 401 and "revoked" in error_of(r)
    listed = pasv.ok("admin", "token", "list")
    assert "temp" in listed and secret not in listed
    assert pasv("admin", "token", "revoke", number).exit_code == 1


# --- users, usage ---------------------------------------------------------------------------
def test_users_are_added_changed_and_deleted(server: AdminServer) -> None:
    with server.api() as api:
        r = api.post("/api/v1/users", json={"name": "carol", "password": "s3cret", "perms": "read"})
        assert r.status_code == 201, r.text
        assert r.json()["perms"] == "LIST,RETR"
        assert api.post("/api/v1/users", json={"name": "carol", "password": "x"}).status_code == 409
        api.post("/api/v1/groups", json={"name": "staff"})
        r = api.patch(
            "/api/v1/users/carol", json={"groups": ["staff"], "settings": {"quota_bytes": "5M"}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["groups"] == ["staff"] and r.json()["settings"]["quota_bytes"] == 5242880
        assert api.get("/api/v1/users/carol").json()["groups"] == ["staff"]
        ftp = server.ftp("carol", "s3cret")  # the password given through the API works for FTP
        ftp.quit()
        assert api.delete("/api/v1/users/carol").status_code == 200
        assert api.get("/api/v1/users/carol").status_code == 404
        assert api.delete("/api/v1/users/carol").status_code == 404


def test_bad_user_input_is_400_and_changes_nothing(server: AdminServer) -> None:
    with server.api() as api:
        before = api.get("/api/v1/users").json()
        r = api.post("/api/v1/users", json={"name": "dave", "password": "pw", "perms": "fly"})
        assert r.status_code == 400 and "unknown permission 'fly'" in error_of(r)
        r = api.post("/api/v1/users", json={"name": "dave", "password": "pw", "groups": ["nope"]})
        assert r.status_code == 400 and "no group named 'nope'" in error_of(r)
        r = api.post("/api/v1/users", json={"name": "dave"})
        assert r.status_code == 400 and "password" in error_of(r)
        r = api.patch(
            "/api/v1/users/bob", json={"perms": "read", "settings": {"quota_bytes": "lots"}}
        )
        assert r.status_code == 400 and "quota_bytes" in error_of(r)
        r = api.patch("/api/v1/users/bob", json={"home": "x", "unset": ["no_such_setting"]})
        assert r.status_code == 400 and "no_such_setting" in error_of(r)
        r = api.post(
            "/api/v1/users", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert api.get("/api/v1/users").json() == before  # bob still has ALL, home ""


def test_credits_and_quotas(server: AdminServer) -> None:
    with server.api() as api:
        r = api.patch("/api/v1/users/bob/usage", json={"credit": 1000})
        assert r.status_code == 200 and r.json()["credit"] == 1000
        assert api.get("/api/v1/users/bob/usage").json()["credit"] == 1000
        assert api.patch("/api/v1/users/bob/usage", json={"credit": -5}).status_code == 400
        assert api.get("/api/v1/users/nobody/usage").status_code == 404
        assert api.get("/api/v1/users/bob/usage").json()["credit"] == 1000


# --- groups, settings, rules, IP lists ------------------------------------------------------
def test_groups_and_global_settings(server: AdminServer) -> None:
    with server.api() as api:
        assert (
            api.post("/api/v1/groups", json={"name": "ops", "description": "d"}).status_code == 201
        )
        assert api.post("/api/v1/groups", json={"name": "ops"}).status_code == 409
        assert api.post("/api/v1/groups", json={"name": "a:b"}).status_code == 400
        r = api.patch("/api/v1/groups/ops", json={"settings": {"max_users": 3}})
        assert r.json()["settings"] == {"max_users": 3}
        r = api.patch("/api/v1/groups/ops", json={"settings": {"max_users": "many"}})
        assert r.status_code == 400
        assert api.get("/api/v1/groups").json()[
            [g["name"] for g in api.get("/api/v1/groups").json()].index("ops")
        ]["settings"] == {"max_users": 3}
        assert api.patch("/api/v1/groups/nope", json={}).status_code == 404
        assert api.delete("/api/v1/groups/ops").status_code == 200
        r = api.patch("/api/v1/policy", json={"settings": {"max_sessions_per_ip": 9}})
        assert r.status_code == 200 and r.json()["max_sessions_per_ip"] == 9
        r = api.patch("/api/v1/policy", json={"unset": ["max_sessions_per_ip"]})
        assert "max_sessions_per_ip" not in r.json()
    shown = Pasv(server.data).ok("policy", "show")  # the CLI sees what the API wrote
    assert "max_sessions_per_ip" in shown


def test_rules_and_why(server: AdminServer) -> None:
    with server.api() as api:
        r = api.post(
            "/api/v1/rules",
            json={"action": "deny", "path": "/secret", "perms": "read", "to": "bob"},
        )
        assert r.status_code == 201, r.text
        number = r.json()["id"]
        why = api.get(
            "/api/v1/why", params={"user": "bob", "perm": "RETR", "path": "/secret/x"}
        ).json()
        assert why["allowed"] is False and why["rule"]["id"] == number
        assert f"rule {number}" in why["explanation"]

        def refused() -> bool:
            with server.ftp() as ftp:
                try:
                    ftp.retrbinary("RETR /secret/x", lambda b: None)
                except ftplib.error_perm as exc:
                    return "Permission denied" in str(exc) or str(exc).startswith("550")
            return False

        wait_for(refused, what="the deny rule to apply")
        assert (
            api.post(
                "/api/v1/rules", json={"action": "maybe", "path": "/", "perms": "read"}
            ).status_code
            == 400
        )
        assert (
            api.post(
                "/api/v1/rules", json={"action": "deny", "path": "/", "perms": "NONE"}
            ).status_code
            == 400
        )
        nul = api.post(  # found by the schema fuzzer: it was a 500
            "/api/v1/rules", json={"action": "deny", "path": "/a\u0000b", "perms": "read"}
        )
        assert nul.status_code == 400 and "not a usable path" in nul.text
        nul_why = api.get("/api/v1/why", params={"user": "bob", "perm": "RETR", "path": "/\0"})
        assert nul_why.status_code == 400
        bad = api.get("/api/v1/why", params={"user": "bob", "perm": "fly", "path": "/"})
        assert bad.status_code == 400
        assert (
            api.get(
                "/api/v1/why", params={"user": "ghost", "perm": "RETR", "path": "/"}
            ).status_code
            == 404
        )
        assert api.delete(f"/api/v1/rules/{number}").status_code == 200
        assert api.delete(f"/api/v1/rules/{number}").status_code == 404
        assert api.delete("/api/v1/rules/0").status_code == 400
        assert api.get(
            "/api/v1/why", params={"user": "bob", "perm": "RETR", "path": "/secret/x"}
        ).json()["allowed"]


def test_ip_rules_refuse_a_login_and_the_session_log_shows_it(server: AdminServer) -> None:
    with server.api() as api:
        r = api.post(
            "/api/v1/ip-rules", json={"action": "deny", "network": "127.0.0.0/8", "user": "bob"}
        )
        assert r.status_code == 201, r.text
        number = r.json()["id"]
        assert r.json()["scope"] == "user:bob"
        assert (
            api.post(
                "/api/v1/ip-rules", json={"action": "deny", "network": "300.1.1.1"}
            ).status_code
            == 400
        )
        assert (
            api.post(
                "/api/v1/ip-rules",
                json={"action": "deny", "network": "10.0.0.0/8", "user": "bob", "group": "g"},
            ).status_code
            == 400
        )
        wait_for(lambda: not server.can_log_in(), what="the IP rule to apply")  # within a second
        log = wait_for(
            lambda: [
                e
                for e in api.get("/api/v1/session-log").json()
                if e["event"] == "login_refused" and e["user"] == "bob"
            ],
            what="the refused login in the session log",
        )
        assert log[0]["code"] == 530 and log[0]["ip"] == "127.0.0.1"
        assert api.delete(f"/api/v1/ip-rules/{number}").status_code == 200
        wait_for(server.can_log_in, what="the login allowed again")


# --- bans -----------------------------------------------------------------------------------
def test_a_ban_refuses_the_address_until_lifted(server: AdminServer) -> None:
    with server.api() as api:
        # loopback is never banned by default: keep only 127.0.0.1 exempt for this test
        allow = {"settings": {"ban_allowlist": "127.0.0.1/32"}}
        assert api.patch("/api/v1/policy", json=allow).status_code == 200
        r = api.post(
            "/api/v1/bans", json={"address": "127.0.0.7", "minutes": 5, "reason": "testing"}
        )
        assert r.status_code == 201, r.text
        assert [b["address"] for b in api.get("/api/v1/bans").json()] == ["127.0.0.7"]

        def refused() -> str | None:
            try:
                server.ftp(source="127.0.0.7").quit()
            except ftplib.error_temp as exc:
                return str(exc)
            return None

        assert "testing" in wait_for(refused, what="the ban to apply")  # applied within a second
        server.ftp().quit()  # other addresses are not banned
        assert api.post("/api/v1/bans", json={"address": "nobody", "minutes": 5}).status_code == 400
        assert (
            api.post("/api/v1/bans", json={"address": "127.0.0.8", "minutes": 0}).status_code == 400
        )
        assert api.delete("/api/v1/bans/127.0.0.7").status_code == 200
        assert api.delete("/api/v1/bans/127.0.0.7").status_code == 404
        wait_for(lambda: not refused(), what="the lifted ban")
        assert api.get("/api/v1/bans").json() == []
        api.patch("/api/v1/policy", json={"unset": ["ban_allowlist"]})


# --- live sessions, history -----------------------------------------------------------------
def test_live_sessions_show_the_transfer_and_can_be_kicked(server: AdminServer) -> None:
    with server.api() as api:
        ftp = server.ftp()
        ftp.voidcmd("NOOP")
        mine = wait_for(
            lambda: [
                s
                for s in api.get("/api/v1/sessions").json()
                if s["user"] == "bob" and s["command"] == "NOOP"
            ]
        )
        session = mine[0]
        assert session["address"] == "127.0.0.1" and session["port"] == ftp.sock.getsockname()[1]
        assert session["transfer"] is None
        r = api.delete(f"/api/v1/sessions/{session['id']}")
        assert r.status_code == 200
        with pytest.raises((ftplib.error_temp, EOFError, OSError)):
            ftp.voidcmd("NOOP")
        ftp.close()
        assert api.delete(f"/api/v1/sessions/{session['id']}").status_code == 404
        assert api.delete("/api/v1/sessions/garbage").status_code == 404
        events = api.get("/api/v1/session-log").json()
        assert any(e["event"] == "kicked" and e["user"] == "bob" for e in events)


def test_transfer_history_is_searchable(server: AdminServer) -> None:
    ftp = server.ftp()
    ftp.storbinary("STOR history-one.bin", io.BytesIO(b"x" * 1234))
    ftp.retrbinary("RETR history-one.bin", lambda b: None)
    ftp.quit()
    with server.api() as api:
        found = wait_for(
            lambda: api.get("/api/v1/transfers", params={"path": "history-one"}).json()
        )
        assert {t["direction"] for t in found} == {"upload", "download"}
        assert all(
            t["user"] == "bob" and t["bytes"] == 1234 and t["result"] == "complete" for t in found
        )
        assert (
            api.get("/api/v1/transfers", params={"path": "history-one", "user": "carol"}).json()
            == []
        )
        assert (
            api.get(
                "/api/v1/transfers", params={"path": "history-one", "result": "incomplete"}
            ).json()
            == []
        )
        assert (
            api.get("/api/v1/transfers", params={"path": "history-one", "since": 4e9}).json() == []
        )
        assert api.get("/api/v1/transfers", params={"result": "maybe"}).status_code == 400
        assert api.get("/api/v1/transfers", params={"limit": 0}).status_code == 400


# --- status, configuration, audit, schema ---------------------------------------------------
def test_status_and_configuration(server: AdminServer) -> None:
    with server.api() as api:
        status = api.get("/api/v1/status").json()
        assert status["workers"] == 1 and status["version"]
        assert f"127.0.0.1:{server.ftp_port}" in status["listening"]
        config = api.get("/api/v1/config").json()
        assert config["server"]["port"] == 0 and config["admin"]["enabled"] is True
        text = json.dumps(config)
        assert "password" not in text and "pasv_" not in text


def test_every_change_is_audited_without_secrets(server: AdminServer) -> None:
    with server.api() as api:
        api.post("/api/v1/users", json={"name": "erin", "password": "hunter2-audit"})
        api.post("/api/v1/users", json={"name": "erin", "password": "x", "perms": "fly"})
        entries = api.get("/api/v1/audit").json()
    added = [e for e in entries if e["action"] == "user.add" and e["target"] == "erin"]
    assert added and added[-1]["actor"].endswith(":ops") and added[-1]["result"] == "ok"
    raw = (server.data / "admin-audit.log").read_text()
    assert "hunter2-audit" not in raw and server.write_token not in raw


def test_the_openapi_schema_is_served_at_a_fixed_path(server: AdminServer) -> None:
    with server.client() as anon:
        schema = anon.get("/api/openapi.json").json()
    for path in (
        "/api/v1/users",
        "/api/v1/groups",
        "/api/v1/rules",
        "/api/v1/ip-rules",
        "/api/v1/bans",
        "/api/v1/sessions",
        "/api/v1/transfers",
        "/api/v1/why",
        "/api/v1/status",
        "/api/v1/config",
        "/api/v1/users/{name}/usage",
    ):
        assert path in schema["paths"], path
