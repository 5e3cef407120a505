"""PostgreSQL stopped under a running node: new logins get 421 with the reason, the running
session and its upload carry on (what needs the cluster's file locks, 451), and the node
recovers by itself when the database is back; after a long outage no node gives the others
up for dead before it has heard them."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import support
from tests.cluster.support import HEARTBEAT, PASSWORD, USER, pasv_cli, start_node
from tests.support.postgres import PgCluster, started_cluster

stop = support.stop

BUSY = "450 File busy: x.bin is being uploaded by another session."


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server of this test's own: it is stopped and started again."""
    yield from started_cluster()


def test_database_stopped_and_started_under_a_running_node(
    own_cluster: PgCluster, tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    url = own_cluster.create_database()
    data = tmp_path / "data"
    pasv_cli(url, data, "user", "add", USER, "--password", PASSWORD)
    node = start_node("A", url, data, stop)
    running = node.login()
    conn = running.transfercmd("STOR during.bin")
    first = b"x" * 200_000
    conn.sendall(first)

    own_cluster.stop()
    node.wait_for(r"account database .* cannot be reached.*new logins are refused")
    with node.connect() as newcomer, pytest.raises(ftplib.error_temp) as refused:
        newcomer.login(USER, PASSWORD)
    text = str(refused.value)
    assert text.startswith("421 Service not available, closing control connection: ")
    assert "cannot be reached" in text and own_cluster.password not in text

    rest = b"y" * 300_000
    conn.sendall(rest)
    conn.close()
    assert running.voidresp().startswith("226")  # the upload that was running is whole
    assert "during.bin" in running.nlst()
    unchecked = "451 Not done: the cluster's file locks cannot be checked"
    with pytest.raises(ftplib.error_temp) as no_check:  # another node may be writing it
        running.retrbinary("RETR during.bin", lambda _: None)
    assert str(no_check.value).startswith(unchecked)
    with pytest.raises(ftplib.error_temp) as no_check:
        running.delete("during.bin")
    assert str(no_check.value).startswith(unchecked)
    with pytest.raises(ftplib.error_temp) as no_lock:  # no lock to be had: no upload starts
        running.storbinary("STOR later.bin", io.BytesIO(b"z"))
    assert str(no_lock.value).startswith(
        "451 Upload not started: the cluster's file locks cannot be checked"
    )

    own_cluster.start()
    node.wait_for(r"account database reachable again")
    with node.login() as back:
        assert back.storbinary("STOR after.bin", io.BytesIO(b"back")).startswith("226")
        digest = hashlib.sha256()
        back.retrbinary("RETR during.bin", digest.update)
        assert digest.hexdigest() == hashlib.sha256(first + rest).hexdigest()
    running.close()


def test_after_an_outage_no_node_takes_another_ones_running_upload(
    own_cluster: PgCluster, tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    """An outage longer than a node's dead time leaves every node's last beat old. The first
    node back must not give the others up for dead: A's upload, running all along, keeps its
    lock, so B refuses to write or delete that file. (A is paused while PostgreSQL comes back,
    so B is the first to reach it, as it often is.)"""
    url = own_cluster.create_database()
    data = tmp_path / "data"
    pasv_cli(url, data, "user", "add", USER, "--password", PASSWORD)
    a = start_node("A", url, data, stop, "--workers", "1")
    b = start_node("B", url, data, stop, "--workers", "1")
    uploader = a.login()
    conn = uploader.transfercmd("STOR x.bin")
    conn.sendall(b"a" * 100_000)

    own_cluster.stop()
    stopped = time.monotonic()
    b.wait_for(r"new logins are refused")
    time.sleep(max(0.0, stopped + HEARTBEAT - time.monotonic()))  # the outage itself lasts
    os.killpg(a.proc.pid, signal.SIGSTOP)
    try:
        own_cluster.start()
        b.wait_for(r"account database reachable again")
        with b.login("127.0.0.2") as other:
            with pytest.raises(ftplib.error_temp) as busy:
                other.storbinary("STOR x.bin", io.BytesIO(b"from B"))
            assert str(busy.value) == BUSY
            with pytest.raises(ftplib.error_temp) as busy:
                other.delete("x.bin")
            assert str(busy.value) == BUSY
    finally:
        os.killpg(a.proc.pid, signal.SIGCONT)
    a.wait_for(r"account database reachable again")  # so A's 226 can give its lock back
    conn.sendall(b"a" * 100_000)
    conn.close()
    assert uploader.voidresp().startswith("226")
    assert (data / "files" / "x.bin").read_bytes() == b"a" * 200_000
    with b.login("127.0.0.2") as other:  # A's 226 gave the lock back
        assert other.storbinary("STOR x.bin", io.BytesIO(b"from B")).startswith("226")
    uploader.close()
