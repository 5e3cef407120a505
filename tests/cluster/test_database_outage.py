"""PostgreSQL stopped under a running node: new logins get 421 with the reason, the running
session and its upload carry on (what needs the cluster's file locks, 451), and the node
recovers by itself when the database is back."""

from __future__ import annotations

import ftplib
import hashlib
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import support
from tests.cluster.support import PASSWORD, USER, pasv_cli, start_node
from tests.support.postgres import PgCluster, started_cluster

stop = support.stop


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
