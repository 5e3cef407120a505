"""`pasv get/put/mirror --compress` and `pasv get/put --block` as a person runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.peers import Peer

runner = CliRunner()
TEXT = b"".join(b"%06d a line of a text file that compresses well\n" % i for i in range(20000))


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--retries", "0", "-v"], catch_exceptions=False)
    return result.exit_code, result.stderr


def test_get_put_mirror_with_compress(pasv: Peer, tmp_path: Path) -> None:
    pasv.put("tree/a.txt", TEXT)
    pasv.put("tree/sub/b.txt", TEXT[:12345])
    code, log = cli("get", "--compress", pasv.url("/tree/a.txt"), str(tmp_path / "a.txt"))
    assert code == 0, log
    assert "Command:  MODE Z" in log and "Response: 200 Mode set to Z" in log
    assert (tmp_path / "a.txt").read_bytes() == TEXT
    code, log = cli("put", "--compress", str(tmp_path / "a.txt"), pasv.url("/copy.txt"))
    assert code == 0, log
    assert "Command:  MODE Z" in log and (pasv.root / "copy.txt").read_bytes() == TEXT
    code, log = cli("mirror", "--compress", pasv.url("/tree"), str(tmp_path / "mirror"))
    assert code == 0, log
    assert log.count("Command:  MODE Z") >= 1
    assert (tmp_path / "mirror/a.txt").read_bytes() == TEXT
    assert (tmp_path / "mirror/sub/b.txt").read_bytes() == TEXT[:12345]


def test_get_put_with_block(pasv: Peer, tmp_path: Path) -> None:
    pasv.put("b.bin", TEXT * 2)  # past the first restart marker (1 MiB)
    code, log = cli("get", "--block", pasv.url("/b.bin"), str(tmp_path / "b.bin"))
    assert code == 0, log
    assert "Response: 200 Mode set to B" in log and (tmp_path / "b.bin").read_bytes() == TEXT * 2
    assert not (tmp_path / "b.bin.pasv-marker").exists()
    code, log = cli("put", "--block", str(tmp_path / "b.bin"), pasv.url("/c.bin"))
    assert code == 0, log
    assert "Response: 110 MARK 1048576 = 1048576" in log
    assert (pasv.root / "c.bin").read_bytes() == TEXT * 2
