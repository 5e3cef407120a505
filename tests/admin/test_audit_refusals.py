"""A change the API refuses is in the audit log too: who asked, for what, and why not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.admin.support import AdminServer, admin_server_fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("refusals") / "data")


def _audit(server: AdminServer) -> list[dict[str, Any]]:
    raw = (server.data / "admin-audit.log").read_text()
    return [json.loads(line) for line in raw.splitlines()]


def test_refused_changes_are_audited_with_their_token_and_reason(server: AdminServer) -> None:
    with server.client(server.read_token) as viewer:
        assert viewer.post("/api/v1/bans", json={"address": "192.0.2.7"}).status_code == 403
        assert viewer.get("/api/v1/bans").status_code == 200  # a read is not a change
    with server.api() as api:
        r = api.post("/api/v1/users", json={"name": "eve", "password": "pw-audit", "perms": "fly"})
        assert r.status_code == 400
        assert api.delete("/api/v1/rules/99").status_code == 404
        r = api.post("/api/v1/users", json={"name": "eve", "password": "p", "extra": 1})
        assert r.status_code == 400
    with server.client("pasv_guessed-token") as stranger:  # counted against its address
        assert stranger.delete("/api/v1/bans/192.0.2.7").status_code == 401
    refused = [e for e in _audit(server) if e["result"] == "refused"]
    assert [(e["actor"], e["action"], e["detail"]["status"]) for e in refused] == [
        ("token:2:viewer", "POST /api/v1/bans", 403),
        ("token:1:ops", "POST /api/v1/users", 400),
        ("token:1:ops", "DELETE /api/v1/rules/99", 404),
        ("token:1:ops", "POST /api/v1/users", 400),
        ("unknown token", "api.token", 401),  # never with the token tried
    ]
    assert "needs write" in refused[0]["detail"]["error"]
    assert "fly" in refused[1]["detail"]["error"] and refused[2]["target"] == "rules/99"
    assert refused[0]["address"] == "127.0.0.1"
    raw = (server.data / "admin-audit.log").read_text()
    assert "pw-audit" not in raw and server.write_token not in raw and "guessed" not in raw
