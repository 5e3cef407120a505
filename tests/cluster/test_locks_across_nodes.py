"""Files in use across nodes: while node A uploads a file, node B refuses with 450 to read it
(standard upload mode), delete it, rename it or remove its directory; all of that works on B
once the upload has ended with 226."""

from __future__ import annotations

import ftplib
import hashlib
import io
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.cli import support
from tests.cluster.support import PASSWORD, USER, pasv_cli, start_node

stop = support.stop

BUSY = "450 File busy: same.bin is being uploaded by another session."
DIR_BUSY = "450 Directory busy: a file in up is being uploaded."


def _refused(call: object, *args: str) -> str:
    assert callable(call)
    with pytest.raises(ftplib.error_temp) as refused:
        call(*args)
    return str(refused.value)


def test_a_file_being_uploaded_on_one_node_is_busy_for_every_command_on_the_other(
    pg_url: str, tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "data"
    pasv_cli(pg_url, data, "user", "add", USER, "--password", PASSWORD)
    a, b = start_node("A", pg_url, data, stop), start_node("B", pg_url, data, stop)
    uploader = a.login()
    uploader.mkd("up")
    conn = uploader.transfercmd("STOR up/same.bin")  # the 150 comes after A took the lock
    first = b"a" * 100_000
    conn.sendall(first)
    with psycopg.connect(pg_url) as db:
        rows = db.execute("SELECT node, identity, directory FROM file_locks").fetchall()
    assert [
        (node, Path(identity).name, Path(directory).name) for node, identity, directory in rows
    ] == [("A", "same.bin", "up")]

    with b.login() as other:
        assert _refused(other.retrbinary, "RETR up/same.bin", lambda _: None) == BUSY
        assert _refused(other.delete, "up/same.bin") == BUSY
        assert _refused(other.sendcmd, "RNFR up/same.bin") == BUSY
        assert _refused(other.rmd, "up") == DIR_BUSY
        other.mkd("elsewhere")  # only that file and its directory are busy
        assert other.storbinary("STOR up/other.bin", io.BytesIO(b"b")).startswith("226")
        assert other.delete("up/other.bin").startswith("250")

        rest = b"z" * 50_000
        conn.sendall(rest)
        conn.close()
        assert uploader.voidresp().startswith("226")  # released with the upload's end

        digest = hashlib.sha256()
        assert other.retrbinary("RETR up/same.bin", digest.update).startswith("226")
        assert digest.hexdigest() == hashlib.sha256(first + rest).hexdigest()
        assert other.rename("up/same.bin", "up/renamed.bin").startswith("250")
        assert other.delete("up/renamed.bin").startswith("250")
        assert other.rmd("up").startswith("250")
    uploader.close()
