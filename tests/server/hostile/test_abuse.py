"""Abuse by volume and by slowness: slowloris, 1,000 failed logins (with and without
anti-hammering), a connection flood past the session limit. Others keep being served."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.helpers import Raw, read_until_closed, readable, wait_for
from tests.server.hostile.support import RSS_SLACK_KIB, assert_served, open_fds, rss_kib
from tests.support.live import USER, LiveServer, start_server


def _in_threads(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Run ``jobs`` at once; return what they raised."""
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.fixture
def short_timeouts(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", timeouts={"login": 1.5, "idle": 1.5})
    yield server
    server.stop()


def _trickle(raw: Raw, text: bytes) -> bytes:
    """Send one byte per second until the server closes; return what it said (at most 6 s)."""
    for byte in text[:6]:
        try:
            raw.send(bytes([byte]))
        except OSError:
            break
        if readable(raw.sock, 1.0):  # the pace of the attack; the reply ends it early
            break
    return read_until_closed(raw.sock)


def test_slowloris_before_and_after_login(short_timeouts: LiveServer) -> None:
    """A byte per second never counts as activity: the login and idle timeouts still close."""
    live = short_timeouts
    said: dict[str, bytes] = {}

    def before_login() -> None:
        with Raw.to(live) as raw:
            said["before"] = _trickle(raw, f"USER {USER}\r\n".encode())

    def after_login() -> None:
        with Raw.to(live) as raw:
            raw.login()
            said["after"] = _trickle(raw, b"NOOP\r\n")

    errors = _in_threads([before_login, after_login, lambda: assert_served(live)])
    assert not errors, errors[0]
    assert said["before"].startswith(b"421 Login timeout (1.5 seconds)")
    assert said["after"].startswith(b"421 Idle timeout (1.5 seconds)")
    wait_for(lambda: not live.server.sessions)


def _fail_logins(live: LiveServer, attempts: int, source: str) -> list[int]:
    """Wrong passwords on one connection (reconnecting when closed); the final codes."""
    codes: list[int] = []
    raw: Raw | None = None
    try:
        while len(codes) < attempts:
            if raw is None:
                raw = Raw(live.host, live.port, source=source)
                if raw.greeting.code != 220:
                    codes.append(raw.greeting.code)
                    raw.close()
                    raw = None
                    continue
            assert raw.cmd(f"USER {USER}").code == 331
            code = raw.cmd("PASS wrong-password").code
            codes.append(code)
            if code == 421:
                raw.close()
                raw = None
    finally:
        if raw is not None:
            raw.close()
    return codes


def test_thousand_failed_logins_without_anti_hammering(tmp_path: Path) -> None:
    """Loopback is on the ban allowlist by default: every attempt is answered 530 and the
    address is never banned; the server's memory stays put."""
    live = start_server(tmp_path / "data", login={"failure_delay": 0, "max_failures": 1000})
    try:
        before = rss_kib()
        results: list[list[int]] = []
        jobs = [lambda: results.append(_fail_logins(live, 100, "127.0.0.1")) for _ in range(10)]
        errors = _in_threads([*jobs, lambda: assert_served(live)])
        assert not errors, errors[0]
        assert [code for codes in results for code in codes] == [530] * 1000
        assert live.policy.bans() == {}
        assert_served(live)
        assert rss_kib() - before < RSS_SLACK_KIB
    finally:
        live.stop()


def test_thousand_failed_logins_with_anti_hammering(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", login={"failure_delay": 0, "max_failures": 1000})
    try:
        store = live.policy
        store.set_option("", "ban_allowlist", "")
        store.set_option("", "hammer_failures", 5)
        live.reload_policy()
        codes = _fail_logins(live, 1000, "127.0.0.3")
        assert codes[:4] == [530] * 4
        assert codes[4] == 421  # the fifth failure bans
        assert set(codes[5:]) == {421}  # refused at connect from then on
        assert "127.0.0.3" in store.bans()
        assert_served(live, source="127.0.0.4")  # other addresses are served
    finally:
        live.stop()


def test_connection_flood_past_the_session_limit(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"max_sessions": 20})
    try:
        held = [Raw.to(live) for _ in range(20)]
        for raw in held:
            raw.login()
        fds = open_fds()
        before = rss_kib()
        flood = []
        for _ in range(300):  # past the limit; none of them reads
            flood.append(socket.create_connection((live.host, live.port), timeout=5))
        assert all(raw.cmd("NOOP").code == 200 for raw in held)  # served during the flood
        for sock in flood:
            refused = read_until_closed(sock)
            assert refused == b"421 Too many users - please try again later.\r\n", refused
            sock.close()
        assert len(live.server.sessions) == 20
        wait_for(lambda: open_fds() <= fds)  # every refused connection was closed
        assert rss_kib() - before < RSS_SLACK_KIB
        held.pop().close()
        wait_for(lambda: len(live.server.sessions) == 19)
        assert_served(live)
        for raw in held:
            raw.close()
    finally:
        live.stop()


def test_refused_connections_cost_no_time_for_the_served(tmp_path: Path) -> None:
    """While a flood of connections is refused, a served session's commands are answered."""
    live = start_server(tmp_path / "data", server={"max_sessions": 1})
    try:
        with Raw.to(live) as served:
            served.login()
            stop = time.monotonic() + 1.0

            def flood() -> None:
                for _ in range(2000):
                    if time.monotonic() > stop:
                        return
                    with socket.create_connection((live.host, live.port), timeout=5) as s:
                        assert read_until_closed(s).startswith(b"421 ")

            errors = _in_threads([flood, flood])
            assert not errors, errors[0]
            assert all(served.cmd("NOOP").code == 200 for _ in range(50))
    finally:
        live.stop()
