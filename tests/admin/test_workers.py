"""With --workers 2 the admin API (in worker 0) sees and ends the sessions of both workers."""

from __future__ import annotations

import ftplib
from pathlib import Path

from tests.admin.support import start_admin_server, wait_for


def test_sessions_of_every_worker_are_listed_and_can_be_kicked(tmp_path: Path) -> None:
    server = start_admin_server(tmp_path / "data", "--workers", "2")
    clients: list[ftplib.FTP] = []
    try:
        with server.api() as api:
            assert api.get("/api/v1/status").json()["workers"] == 2

            def on_both() -> list[dict[str, object]] | None:
                # the kernel hands each connection to one worker: connect until both have some
                if len(clients) < 40:
                    clients.append(server.ftp())
                listed = [s for s in api.get("/api/v1/sessions").json() if s["user"] == "bob"]
                workers = {s["worker"] for s in listed}
                return listed if workers == {0, 1} and len(listed) == len(clients) else None

            listed = wait_for(on_both, timeout=20, what="sessions on both workers")
            assert len({s["id"] for s in listed}) == len(clients)
            other = next(s for s in listed if s["worker"] == 1)
            assert api.delete(f"/api/v1/sessions/{other['id']}").status_code == 200
            wait_for(
                lambda: all(s["id"] != other["id"] for s in api.get("/api/v1/sessions").json()),
                what="the kicked session gone",
            )
            ended = [c for c in clients if _ended(c)]
            assert len(ended) == 1
    finally:
        for client in clients:
            client.close()
        server.stop()


def _ended(client: ftplib.FTP) -> bool:
    try:
        client.voidcmd("NOOP")
    except (ftplib.error_temp, EOFError, OSError):
        return True
    return False
