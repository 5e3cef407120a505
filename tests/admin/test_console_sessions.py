"""A console login with an account lasts only while that account may use the console."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx
import pytest

from tests.admin.support import AdminServer, admin_server_fixture
from tests.cli.support import Pasv


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    for server in admin_server_fixture(tmp_path_factory.mktemp("sessions") / "data"):
        Pasv(server.data).ok("group", "add", "admin")
        yield server


@contextlib.contextmanager
def _logged_in(server: AdminServer, name: str) -> Iterator[httpx.Client]:
    pasv = Pasv(server.data)
    pasv.ok("user", "add", name, "--password", "pw-" + name)
    pasv.ok("user", "set", name, "groups=admin")
    with server.client() as web:
        r = web.post("/console/login", data={"user": name, "password": "pw-" + name})
        assert r.status_code == 303
        assert web.get("/console/users").status_code == 200
        yield web


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("out", ["user", "set", "{name}", "groups="]),  # out of the console group
        ("off", ["user", "set", "{name}", "enabled=false"]),
        ("newpw", ["user", "passwd", "{name}", "--password", "a-new-one"]),
        ("gone", ["user", "del", "{name}"]),
    ],
)
def test_the_session_ends_when_the_account_changes(
    server: AdminServer, name: str, change: list[str]
) -> None:
    with _logged_in(server, name) as web:
        Pasv(server.data).ok(*[part.format(name=name) for part in change])
        r = web.get("/console/users")
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
        # and the old cookie stays dead, even if the account is put back as it was
        if change[1] != "del":
            Pasv(server.data).ok("user", "set", name, "groups=admin", "enabled=true")
        assert web.get("/console/users").status_code == 303


def test_a_session_whose_account_is_unchanged_goes_on(server: AdminServer) -> None:
    with _logged_in(server, "steady") as web:
        Pasv(server.data).ok("user", "set", "steady", "home=/elsewhere")
        assert web.get("/console/users").status_code == 200
