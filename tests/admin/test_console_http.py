"""The console's login, CSRF check and scopes over plain HTTP; the API over HTTPS."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.admin.support import AdminServer, admin_server_fixture, start_admin_server
from tests.cli.support import Pasv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("console") / "data")


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found[1]


def test_an_admin_account_logs_in_and_others_do_not(server: AdminServer) -> None:
    pasv = Pasv(server.data)
    pasv.ok("group", "add", "admin")
    pasv.ok("user", "add", "root-ish", "--password", "adminpw")
    pasv.ok("user", "set", "root-ish", "groups=admin")
    with server.client() as web:
        r = web.post("/console/login", data={"user": "bob", "password": "pw"})
        assert r.status_code == 200 and "Login failed" in r.text  # bob is not in group admin
        r = web.post("/console/login", data={"user": "root-ish", "password": "wrong"})
        assert "Login failed" in r.text
        r = web.post("/console/login", data={"user": "root-ish", "password": "adminpw"})
        assert r.status_code == 303 and r.headers["location"] == "/console/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "adminpw" not in cookie
        page = web.get("/console/")
        assert "user:root-ish" in page.text
        assert page.headers["x-frame-options"] == "DENY"


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(server: AdminServer) -> None:
    with server.client() as web:
        web.post("/console/login", data={"token": server.write_token})
        csrf = _csrf(web.get("/console/groups"))
        r = web.post("/console/groups/add", data={"name": "forged"})
        assert r.status_code == 403
        r = web.post("/console/groups/add", data={"name": "forged", "csrf": "x" + csrf})
        assert r.status_code == 403
        assert "forged" not in web.get("/console/groups").text
        r = web.post("/console/groups/add", data={"name": "real", "csrf": csrf})
        assert r.status_code == 303
        assert "Group added: real" in web.get("/console/groups").text
        r = web.post("/console/groups/add", data={"name": "a:b", "csrf": csrf})
        assert "Error" in web.get("/console/groups").text


def test_a_read_token_sees_the_console_but_changes_nothing(server: AdminServer) -> None:
    with server.client() as web:
        web.post("/console/login", data={"token": server.read_token})
        csrf = _csrf(web.get("/console/bans"))
        web.post("/console/bans/add", data={"address": "192.0.2.55", "csrf": csrf})
        page = web.get("/console/bans")
        assert "may only read" in page.text and "192.0.2.55" not in page.text


def test_no_page_without_a_login(server: AdminServer) -> None:
    with server.client() as web:
        for path in ("/console/", "/console/users", "/console/why", "/console/log"):
            r = web.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/console/login", path
        r = web.post("/console/bans/add", data={"address": "192.0.2.1"})
        assert r.status_code == 303
    with server.api() as api:
        assert api.get("/api/v1/bans").json() == []


def test_a_form_from_another_site_is_refused_even_with_the_right_csrf_token(
    server: AdminServer,
) -> None:
    own = server.base  # http://127.0.0.1:PORT, what a browser sends as the Origin of our pages
    with server.client() as web:
        # login CSRF: another site logging the browser in to its own console session
        r = web.post(
            "/console/login",
            data={"token": server.write_token},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403 and "evil.example" in r.text and "set-cookie" not in r.headers
        r = web.post("/console/login", data={"token": server.write_token}, headers={"Origin": own})
        assert r.status_code == 303
        csrf = _csrf(web.get("/console/groups"))
        for headers in (
            {"Origin": "null"},
            {"Origin": own + ".evil.example"},
            {"Origin": own.rsplit(":", 1)[0] + ":1"},  # the same host, another port
            {"Sec-Fetch-Site": "cross-site"},
        ):
            r = web.post(
                "/console/groups/add", data={"name": "crossed", "csrf": csrf}, headers=headers
            )
            assert r.status_code == 403, headers
            r = web.post("/console/logout", data={"csrf": csrf}, headers=headers)
            assert r.status_code == 403, headers
        assert "crossed" not in web.get("/console/groups").text
        r = web.post(
            "/console/groups/add",
            data={"name": "same-site", "csrf": csrf},
            headers={"Origin": own, "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 303 and "same-site" in web.get("/console/groups").text


def test_every_answer_is_not_sniffable_framable_or_cached(server: AdminServer) -> None:
    with server.client() as anon, server.api() as api:
        answers = [
            api.get("/api/v1/users"),  # JSON holding names a user chose
            anon.get("/api/v1/users"),  # an error
            anon.get("/console/users"),  # a redirect
            anon.get("/api/openapi.json"),
            anon.get("/nowhere"),
        ]
        page = anon.get("/console/login")
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "same-origin"  # no-referrer: forms say Origin null
    # a console page keeps its own policy (its styles), once
    assert page.headers.get_list("content-security-policy") == [
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'"
    ]
    assert page.headers.get_list("x-frame-options") == ["DENY"]


def test_https_with_the_servers_certificate(tmp_path: Path) -> None:
    config = tmp_path / "pasv.toml"
    config.write_text("[admin]\ntls = true\n")
    data = tmp_path / "data"
    server = start_admin_server(data, "--config", str(config))
    try:
        assert server.base.startswith("https://")
        context = ssl.create_default_context(cafile=str(data / "tls" / "self-signed.pem"))
        context.check_hostname = False
        with httpx.Client(
            base_url=server.base,
            verify=context,
            headers={"Authorization": f"Bearer {server.read_token}"},
        ) as api:
            assert api.get("/api/v1/status").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(server.base.replace("https://", "http://") + "/api/v1/status")
    finally:
        server.stop()
