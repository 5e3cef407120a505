"""GET /api/v1/config shows a read token the running configuration, but none of its secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.admin.views import config_view
from pasv.config import Settings
from tests.admin.support import AdminServer, admin_server_fixture

HOOK_SECRET = "hook-signing-key-never-shown"
HOOK_PASSWORD = "receiver-password-never-shown"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    root = tmp_path_factory.mktemp("config-secrets")
    config = root / "pasv.toml"
    config.write_text(
        "[[hooks]]\n"
        'name = "signed"\n'
        'events = ["ban"]\n'
        f'url = "http://ops:{HOOK_PASSWORD}@127.0.0.1:9/events"\n'
        f'secret = "{HOOK_SECRET}"\n'
    )
    yield from admin_server_fixture(root / "data", "--config", str(config))


def test_a_read_token_sees_the_hooks_but_not_their_secret_or_password(
    server: AdminServer,
) -> None:
    with server.client(server.read_token) as viewer:
        config = viewer.get("/api/v1/config").json()
    hook = config["hooks"][0]
    assert hook["name"] == "signed" and hook["events"] == ["ban"]
    assert hook["secret"] == "(set; not shown)"
    assert hook["url"] == "http://ops:****@127.0.0.1:9/events"
    text = json.dumps(config)
    assert HOOK_SECRET not in text and HOOK_PASSWORD not in text


def test_database_passwords_and_key_paths_are_not_shown(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "server": {"data_dir": str(tmp_path)},
            "accounts": {"url": "postgresql://pasv:db-pass@db.example/pasv?password=q-pass"},
            "hosts": [
                {
                    "name": "ftp.example.com",
                    "certificate": "/etc/pasv/c.pem",
                    "key": "/etc/pasv/secret.key",
                }
            ],
        }
    )
    data = config_view(settings)
    assert data["accounts"]["url"] == "postgresql://pasv:****@db.example/pasv?password=****"
    assert data["hosts"][0]["key"] == "(set; not shown)"
    text = json.dumps(data)
    assert "db-pass" not in text and "q-pass" not in text and "secret.key" not in text
