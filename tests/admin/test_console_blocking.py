"""The console reads its log files beside the FTP server's loop, never in it: a log that will
not give its bytes (here a FIFO nobody writes) holds only the page that reads it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.admin.support import AdminServer, admin_server_fixture


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServer]:
    yield from admin_server_fixture(tmp_path_factory.mktemp("blocking") / "data")


def _stuck(path: Path) -> None:
    """``path`` becomes a FIFO: opening it to read waits for a writer (the server keeps the
    file it had open)."""
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _release(path: Path) -> None:
    """Let a reader waiting on ``path`` open it and see its end (no reader yet: next time)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader has it open now
        return
    os.close(fd)


@pytest.mark.parametrize(
    ("log", "page"),
    [
        ("xferlog", "/console/transfers"),
        ("sessions.log", "/console/"),
        ("sessions.log", "/console/log"),
    ],
)
def test_a_page_waiting_on_its_log_does_not_hold_the_server(
    server: AdminServer, log: str, page: str
) -> None:
    path = server.data / log
    saved = path.read_bytes() if path.exists() else b""
    with server.client() as web:
        assert web.post("/console/login", data={"token": server.read_token}).status_code == 303
        _stuck(path)
        answers: list[int] = []
        reader = threading.Thread(target=lambda: answers.append(web.get(page).status_code))
        reader.start()
        try:
            with server.client(server.read_token) as api:  # the same loop answers meanwhile
                assert api.get("/api/v1/status", timeout=5).status_code == 200
            assert server.can_log_in()  # and FTP too
        except httpx.TimeoutException:
            pytest.fail(f"{page} reading {log} held the server's loop")
        finally:
            while reader.is_alive():
                _release(path)
                reader.join(0.2)
            path.unlink()
            path.write_bytes(saved)
        assert answers == [200]
