"""Policy limits and bans hold across `pasv serve --workers 2` processes, and across a restart."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.cli import support
from tests.cli.support import Pasv, _free_port, _read_until, _serve

stop = support.stop

USER, PASSWORD = "alice", "pw-alice"
BANNED = re.compile(r"^421 Too many failed logins from your address; banned for 1[45] minutes\.$")
PER_IP = "530 Not logged in, only 1 session(s) from same IP allowed at a time."
TOO_MANY = "421 Too many users - please try again later."


@pytest.fixture
def pasv(tmp_path: Path) -> Pasv:
    admin = Pasv(tmp_path / "data")
    admin.ok("user", "add", USER, "--password", PASSWORD)
    return admin


def _start(pasv: Pasv, stop: list[subprocess.Popen[str]], workers: int) -> tuple[int, set[int]]:
    """A running server; its port and its workers' process ids. A free port can be taken by
    another program before the server binds it: then it starts again on another (bounded)."""
    for _ in range(3):
        port = _free_port()
        proc = _serve(pasv.data, port, "--workers", str(workers))
        stop.append(proc)
        pids: set[int] = set()
        for _ in range(workers):
            lines = _read_until(proc, r"listening on|Cannot start")
            line = lines[-1] if lines else ""
            if "Cannot start" in line:  # a port taken meanwhile (control or implicit TLS)
                break
            found = re.search(r"pid (\d+)", line)
            assert found, f"the server did not start: {lines}"
            pids.add(int(found.group(1)))
        if len(pids) == workers:
            return port, pids
        proc.wait(10)
    raise AssertionError("no free port to start on")


def _connect(port: int) -> ftplib.FTP:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    return ftp


def _pid(ftp: ftplib.FTP) -> int:
    status = ftp.sendcmd("STAT")
    return int(re.search(r" Served by process (\d+)", status).group(1))  # type: ignore[union-attr]


def _refused_at_greeting(port: int) -> str:
    """The 421 a new connection is greeted with (fails if it is let in)."""
    ftp = ftplib.FTP()
    try:
        ftp.connect("127.0.0.1", port, timeout=10)
    except ftplib.error_temp as exc:
        return str(exc)
    finally:
        ftp.close()
    raise AssertionError("the connection was accepted")


def _poll(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)  # polling interval, not synchronisation: the condition decides
    raise AssertionError(f"not within {timeout} s: {what}")


def _connect_or_none(port: int) -> ftplib.FTP | None:
    """A connection let in, or None when refused at the greeting."""
    ftp = ftplib.FTP()
    try:
        ftp.connect("127.0.0.1", port, timeout=10)
    except ftplib.error_temp:
        ftp.close()
        return None
    return ftp


def _greeted(port: int) -> bool:
    ftp = _connect_or_none(port)
    if ftp is None:
        return False
    ftp.close()
    return True


def _refused(port: int) -> bool:
    return not _greeted(port)


@contextlib.contextmanager
def _sessions() -> Iterator[list[ftplib.FTP]]:
    held: list[ftplib.FTP] = []
    try:
        yield held
    finally:
        for ftp in held:
            ftp.close()


def test_one_session_per_ip_across_workers(pasv: Pasv, stop: list[subprocess.Popen[str]]) -> None:
    pasv.ok("policy", "set", "max_sessions_per_ip=1")
    port, pids = _start(pasv, stop, workers=2)
    with _sessions() as held:
        first = _connect(port)
        held.append(first)
        first.login(USER, PASSWORD)
        holder = _pid(first)
        refusers: set[int] = set()
        for attempt in range(40):  # bounded: stop once both workers refused, after at least 8
            if attempt >= 8 and len(refusers) == 2:
                break
            ftp = _connect(port)
            held.append(ftp)
            with pytest.raises(ftplib.error_perm) as refused:
                ftp.login(USER, PASSWORD)
            assert str(refused.value) == PER_IP
            refusers.add(_pid(ftp))
            ftp.close()
        assert refusers == pids  # both workers refused, one of them not the holder's
        assert refusers - {holder}
        assert "Logged in as alice" in first.sendcmd("STAT")


def test_max_clients_counts_every_worker(pasv: Pasv, stop: list[subprocess.Popen[str]]) -> None:
    pasv.ok("policy", "set", "max_clients=3")
    port, pids = _start(pasv, stop, workers=2)
    deadline = time.monotonic() + 10
    with _sessions() as held:
        for _ in range(200):  # three connections held, spread over both workers
            if len(held) == 3 and {_pid(ftp) for ftp in held} == pids:
                break
            assert time.monotonic() < deadline, "three connections never spread over both"
            if len(held) == 3:
                held.pop(0).quit()
            ftp = _connect_or_none(port)  # None: a closed one is not yet counted out
            if ftp is not None:
                held.append(ftp)
        assert len(held) == 3 and {_pid(ftp) for ftp in held} == pids
        for _ in range(8):  # whichever worker accepts it, three are already there
            assert _refused_at_greeting(port) == TOO_MANY
        held.pop().quit()
        _poll(lambda: _greeted(port), "a place is free again")


def test_a_ban_holds_in_every_worker_until_lifted(
    pasv: Pasv, stop: list[subprocess.Popen[str]]
) -> None:
    pasv.ok("policy", "set", "ban_allowlist=", "hammer_failures=3")
    port, _ = _start(pasv, stop, workers=2)
    with _sessions() as held:
        ftp = _connect(port)
        held.append(ftp)
        for _ in range(2):
            with pytest.raises(ftplib.error_perm, match=r"^530"):
                ftp.login(USER, "wrong")
        with pytest.raises(ftplib.error_temp) as banned:
            ftp.login(USER, "wrong")
        assert BANNED.match(str(banned.value)), banned.value
    for _ in range(8):  # two workers on one socket: eight connections reach both
        reply = _refused_at_greeting(port)
        assert BANNED.match(reply), reply
    assert re.search(r"127\.0\.0\.1 .*1[45] .*Too many failed logins", pasv.ok("ban", "list"))
    assert "Lifted the ban on 127.0.0.1." in pasv.ok("ban", "lift", "127.0.0.1")
    _poll(lambda: _greeted(port), "the lifted ban lets 127.0.0.1 in", timeout=3)
    assert "127.0.0.1" not in pasv.ok("ban", "list")


def test_ban_credit_and_quota_survive_a_restart(
    pasv: Pasv, stop: list[subprocess.Popen[str]]
) -> None:
    pasv.ok("policy", "set", "ban_allowlist=")
    pasv.ok("user", "set", USER, "ratio=1:2", "quota_bytes=1M")
    port, _ = _start(pasv, stop, workers=1)
    with _connect(port) as ftp:
        ftp.login(USER, PASSWORD)
        ftp.storbinary("STOR up.bin", io.BytesIO(b"u" * 102400))
        assert "204800 bytes" in ftp.sendcmd("SITE RATIO")
        ftp.quit()
    pasv.ok("ban", "add", "127.0.0.1", "--reason", "Not today")
    _poll(lambda: _refused(port), "the running server applies the ban")
    first = stop.pop()
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(10) == 0
    assert first.stdout is not None
    first.stdout.close()

    port, _ = _start(pasv, stop, workers=1)
    assert re.match(r"^421 Not today; banned for (59|60) minutes\.$", _refused_at_greeting(port))
    pasv.ok("ban", "lift", "127.0.0.1")
    _poll(lambda: _greeted(port), "the lifted ban lets 127.0.0.1 in", timeout=3)
    with _connect(port) as ftp:
        ftp.login(USER, PASSWORD)
        assert "204800 bytes" in ftp.sendcmd("SITE RATIO")
        assert "100.0 KiB used of 1.0 MiB" in ftp.sendcmd("SITE QUOTA")
