"""`workers = "auto"`: how many workers it means, and the per-worker listening sockets that
share one port (SO_REUSEPORT)."""

from __future__ import annotations

import os
import socket

import pytest

from pasv.config import ConfigError, load_settings
from pasv.server.supervisor import worker_sockets


def test_workers_default_to_one_per_core() -> None:
    settings = load_settings(None, environ={})
    assert settings.server.workers == "auto"
    assert settings.server.worker_count == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("given", "count"), [("auto", None), ("AUTO", None), (3, 3), ("2", 2)])
def test_workers_setting_takes_a_count_or_auto(given: object, count: int | None) -> None:
    settings = load_settings(None, {"server": {"workers": given}}, environ={})
    assert settings.server.worker_count == (count or len(os.sched_getaffinity(0)))


def test_workers_from_the_environment() -> None:
    settings = load_settings(None, environ={"PASV_SERVER_WORKERS": "1"})
    assert settings.server.worker_count == 1


@pytest.mark.parametrize("given", [0, 65, "many", "-1", 2.5])
def test_a_bad_workers_setting_names_the_key(given: object) -> None:
    with pytest.raises(ConfigError, match="workers"):
        load_settings(None, {"server": {"workers": given}}, environ={})


def test_worker_sockets_share_one_port_and_each_accepts() -> None:
    settings = load_settings(None, {"server": {"host": "127.0.0.1", "port": 0}}, environ={})
    socks = worker_sockets(settings, 3)
    try:
        ports = {s.getsockname()[1] for s in socks}
        assert len(socks) == 3 and len(ports) == 1
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in socks)
        port = ports.pop()
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
        try:
            accepted = 0
            for s in socks:  # each connection waits in exactly one of the queues
                s.setblocking(False)
                while True:
                    try:
                        conn, _ = s.accept()
                    except BlockingIOError:
                        break
                    conn.close()
                    accepted += 1
            assert accepted == 30
        finally:
            for c in clients:
                c.close()
    finally:
        for s in socks:
            s.close()


def test_worker_sockets_refuse_a_port_taken_by_another_program() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:  # no SO_REUSEPORT: not in the group
        port = taken.getsockname()[1]
        settings = load_settings(None, {"server": {"host": "127.0.0.1", "port": port}}, environ={})
        with pytest.raises(OSError):
            worker_sockets(settings, 2)
