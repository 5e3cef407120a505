"""Two `pasv serve` nodes on one PostgreSQL database: files, limits, bans and upload locks hold
across them, and a node killed with SIGKILL gives its sessions and locks back within the
heartbeat time."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import support
from tests.cluster.support import HEARTBEAT, PASSWORD, USER, Node, pasv_cli, start_node

stop = support.stop

PER_IP = "530 Not logged in, only 1 session(s) from same IP allowed at a time."
BUSY = "450 File busy: same.bin is being uploaded by another session."
BANNED = re.compile(r"^421 Too many failed logins from your address; banned for \d+ minutes\.$")


@pytest.fixture
def data(tmp_path: Path, pg_url: str) -> Path:
    folder = tmp_path / "data"
    pasv_cli(pg_url, folder, "user", "add", USER, "--password", PASSWORD)
    return folder


def _two(url: str, data: Path, stop: list[subprocess.Popen[str]]) -> tuple[Node, Node]:
    return start_node("A", url, data, stop), start_node("B", url, data, stop)


def _sha256(ftp: ftplib.FTP, name: str) -> str:
    digest = hashlib.sha256()
    ftp.retrbinary(f"RETR {name}", digest.update)
    return digest.hexdigest()


def test_an_upload_on_one_node_downloads_whole_from_the_other(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    a, b = _two(pg_url, data, stop)
    payload = os.urandom(3 * 1024 * 1024 + 17)
    with a.login() as on_a:
        assert on_a.storbinary("STOR big.bin", io.BytesIO(payload)).startswith("226")
    with b.login() as on_b:
        assert _sha256(on_b, "big.bin") == hashlib.sha256(payload).hexdigest()
    listed = pasv_cli(pg_url, data, "cluster", "sessions")
    assert "node" in listed  # the table's header, whatever is live now


def test_the_per_ip_limit_counts_the_sessions_of_every_node(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    pasv_cli(pg_url, data, "policy", "set", "max_sessions_per_ip=1")
    a, b = _two(pg_url, data, stop)
    first = a.login()
    try:
        with b.connect() as second, pytest.raises(ftplib.error_perm) as refused:
            second.login(USER, PASSWORD)
        assert str(refused.value) == PER_IP
        with a.connect() as third, pytest.raises(ftplib.error_perm) as again:
            third.login(USER, PASSWORD)
        assert str(again.value) == PER_IP
        with b.login("127.0.0.3") as elsewhere:  # another address is not limited by this one
            assert elsewhere.pwd() == "/"
    finally:
        first.close()


def test_a_ban_made_on_one_node_refuses_on_the_other_at_once(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    pasv_cli(pg_url, data, "policy", "set", "ban_allowlist=", "hammer_failures=2")
    a, b = _two(pg_url, data, stop)
    with a.connect("127.0.0.2") as ftp:
        with pytest.raises(ftplib.error_perm):
            ftp.login(USER, "wrong")
        with pytest.raises(ftplib.error_temp) as banned:
            ftp.login(USER, "wrong")
    assert BANNED.match(str(banned.value)), banned.value
    b.wait_for(r"policy reloaded \(changed by A\)")
    greeted = b.refused_greeting("127.0.0.2")
    assert BANNED.match(greeted), greeted
    with b.login() as other:  # the ban is of one address only
        assert other.pwd() == "/"
    pasv_cli(pg_url, data, "ban", "lift", "127.0.0.2")  # the operator's command, on any host
    for node in (a, b):
        node.wait_for(r"policy reloaded \(changed by pasv command\)")
        with node.connect("127.0.0.2") as welcome:
            assert welcome.getwelcome().startswith("220")


def test_a_name_being_uploaded_on_one_node_is_busy_on_the_other(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    a, b = _two(pg_url, data, stop)
    holder = b.login()
    conn = holder.transfercmd("STOR same.bin")
    conn.sendall(b"b" * 100_000)
    with a.login() as other:
        with pytest.raises(ftplib.error_temp) as busy:
            other.storbinary("STOR same.bin", io.BytesIO(b"a"))
        assert str(busy.value) == BUSY
        assert other.storbinary("STOR other.bin", io.BytesIO(b"a")).startswith("226")
    conn.close()
    assert holder.voidresp().startswith("226")
    with a.login() as after:  # released with the upload's end
        assert after.storbinary("STOR same.bin", io.BytesIO(b"a")).startswith("226")
    holder.close()


def test_sigkill_of_a_node_releases_its_sessions_and_locks_within_the_heartbeat(
    pg_url: str, data: Path, stop: list[subprocess.Popen[str]]
) -> None:
    pasv_cli(pg_url, data, "policy", "set", "max_sessions_per_ip=1")
    a, b = _two(pg_url, data, stop)
    holder = a.login()
    conn = holder.transfercmd("STOR same.bin")
    conn.sendall(b"a" * 100_000)
    with b.connect() as refused, pytest.raises(ftplib.error_perm) as limit:
        refused.login(USER, PASSWORD)
    assert str(limit.value) == PER_IP
    with b.login("127.0.0.3") as other, pytest.raises(ftplib.error_temp) as busy:
        other.storbinary("STOR same.bin", io.BytesIO(b"b"))
    assert str(busy.value) == BUSY
    killed = time.monotonic()
    os.killpg(a.proc.pid, signal.SIGKILL)
    a.proc.wait(10)
    # two missed beats of A's, then B's next beat: within the heartbeat time (bounded wider
    # here only for a loaded machine's scheduling)
    line = b.wait_for(r"node A stopped beating", timeout=HEARTBEAT * 3)
    elapsed = time.monotonic() - killed
    assert "released its 1 session(s) and 1 upload lock(s)" in line
    assert elapsed < HEARTBEAT * 3
    with b.login() as again:
        assert again.storbinary("STOR same.bin", io.BytesIO(b"b")).startswith("226")
    conn.close()
    holder.close()
