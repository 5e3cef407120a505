"""An account disabled through the admin API (worker 0) ends its sessions on every worker."""

from __future__ import annotations

import ftplib
import re
from functools import partial
from pathlib import Path

from tests.admin.support import start_admin_server, wait_for
from tests.cli.test_standing_workers import _ended

DISABLED = "421 Your account bob was disabled by the administrator; this session is closed."


def test_disabling_through_the_api_ends_the_sessions_of_both_workers(tmp_path: Path) -> None:
    server = start_admin_server(tmp_path / "data", "--workers", "2")
    clients: dict[str, ftplib.FTP] = {}
    try:

        def on_both() -> bool | None:
            client = server.ftp()
            status = client.sendcmd("STAT")
            pid = re.search(r" Served by process (\d+)", status).group(1)  # type: ignore[union-attr]
            if pid in clients:
                client.close()
            else:
                clients[pid] = client
            return True if len(clients) == 2 else None

        wait_for(on_both, timeout=20, what="a session on each worker")
        with server.api() as api:
            assert api.patch("/api/v1/users/bob", json={"enabled": False}).status_code == 200
        for client in clients.values():
            replies: list[str] = []
            wait_for(partial(_ended, client, replies), what="the session ended")
            assert replies == [DISABLED]
    finally:
        for client in clients.values():
            client.close()
        server.stop()
