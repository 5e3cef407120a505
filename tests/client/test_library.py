"""The library as a script uses it: the blocking facade, and servers that do not speak UTF-8."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import ReplyError, SyncFtpClient
from tests.client.peers import Peer, PyftpdServer


def test_sync_facade(peer: Peer, tmp_path: Path) -> None:
    local = tmp_path / "s.txt"
    local.write_bytes(b"sync " * 1000)
    with SyncFtpClient() as ftp:
        assert ftp.connect(peer.host, peer.port)
        ftp.login(peer.user, peer.password)
        ftp.mkdir("/s")
        ftp.cwd("/s")
        assert ftp.pwd() == "/s"
        result = ftp.put(local, "s.txt")
        assert (result.size, result.resumed_from) == (5000, 0)
        assert [(f.name, f.size) for f in ftp.listdir()] == [("s.txt", 5000)]
        assert ftp.size("s.txt") == 5000
        back = ftp.get("s.txt", tmp_path / "back.txt")
        assert back.moved == 5000
        with pytest.raises(ReplyError) as caught:
            ftp.delete("/s/missing.txt")
        assert caught.value.code == 550
    assert (tmp_path / "back.txt").read_bytes() == local.read_bytes()


@pytest.fixture
def cp1251_server(tmp_path: Path) -> Iterator[Peer]:
    root = tmp_path / "cp1251-root"
    root.mkdir()
    server = PyftpdServer(root, encoding="cp1251")
    yield server.peer()
    server.stop()


def test_encoding_option_for_a_cp1251_server(cp1251_server: Peer, tmp_path: Path) -> None:
    local = tmp_path / "report.txt"
    local.write_bytes(b"data")
    runner = CliRunner()
    url = cp1251_server.url("/Отчёт.txt")
    result = runner.invoke(app, ["put", str(local), url, "--encoding", "cp1251", "--retries", "0"])
    assert result.exit_code == 0, result.stderr
    assert (cp1251_server.root / "Отчёт.txt").read_bytes() == b"data"
    listed = runner.invoke(app, ["ls", cp1251_server.url("/"), "--encoding", "cp1251"])
    assert listed.stdout.split() == ["Отчёт.txt"]
    garbled = runner.invoke(app, ["ls", cp1251_server.url("/")])
    assert garbled.exit_code == 0
    assert garbled.stdout.split() == ["\\xce\\xf2\\xf7\\xb8\\xf2.txt"]  # cp1251 bytes, shown
