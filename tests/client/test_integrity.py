"""Exit code 6: the server's HASH of the file does not match; a slow HASH is waited for."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.fakes import HashLiar, in_thread
from tests.client.peers import Peer
from tests.client.scripted import MLST, FileServer, Hook, Session

runner = CliRunner()


def test_a_hash_mismatch_after_get_and_put_exits_6(pasv: Peer, tmp_path: Path) -> None:
    data = os.urandom(50_000)
    pasv.put("f.bin", data)
    with in_thread(HashLiar((pasv.host, pasv.port))) as liar:
        url = f"ftp://{pasv.user}:{pasv.password}@127.0.0.1:{liar.port}"
        got = tmp_path / "f.bin"
        result = runner.invoke(app, ["get", f"{url}/f.bin", str(got), "--retries", "0"])
        assert result.exit_code == 6, result.stderr
        assert "sha256 differs between server and" in result.stderr
        assert got.read_bytes() == data  # the bytes came; the server's hash disagrees

        result = runner.invoke(app, ["put", str(got), f"{url}/up.bin", "--retries", "0"])
        assert result.exit_code == 6, result.stderr
        assert "/up.bin: sha256 differs" in result.stderr
    # Straight to the server, the same file verifies.
    result = runner.invoke(app, ["get", pasv.url("/f.bin"), str(got), "--no-resume"])
    assert (result.exit_code, "verified by sha256" in result.stderr) == (0, True), result.stderr


BIG = os.urandom(20 * 1024 * 1024)
SHA = hashlib.sha256(BIG).hexdigest()


def _slow_hash(answer_after: float, done: threading.Event) -> Hook:
    """A server that takes ``answer_after`` seconds to hash (it reads the whole file)."""

    def hook(session: Session, arg: str) -> bool:
        if not done.wait(answer_after):  # set at the test's end: the thread goes
            session.send(f"213 SHA-256 0-{len(BIG)} {SHA} {arg}")
        return True

    return hook


def _get(port: int, tmp_path: Path) -> tuple[int, str]:
    url = f"ftp://u:p@127.0.0.1:{port}/a.bin"
    args = ["get", "--timeout", "0.5", "--retry-delay", "0", url, str(tmp_path / "a.bin")]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


def test_a_big_files_checksum_may_take_longer_than_the_timeout(tmp_path: Path) -> None:
    done = threading.Event()  # 20 MB: 0.5 s + 1 s for the HASH; the server takes 1 s
    hooks = {"HASH": _slow_hash(1.0, done)}
    with FileServer({"/a.bin": BIG}, feat=("SIZE", "HASH SHA-256*"), hooks=hooks) as server:
        code, err = _get(server.port, tmp_path)
        done.set()
    assert code == 0, err
    assert "verified by sha256" in err


def test_a_checksum_that_never_comes_is_asked_once(tmp_path: Path) -> None:
    done = threading.Event()
    hooks = {"HASH": _slow_hash(60, done)}
    with FileServer({"/a.bin": BIG}, feat=("SIZE", "HASH SHA-256*"), hooks=hooks) as server:
        code, err = _get(server.port, tmp_path)
        done.set()
    assert code == 4, err
    assert "complete (20971520 bytes) but not verified" in err
    assert (server.count("RETR"), server.count("HASH")) == (1, 1)
    assert (tmp_path / "a.bin").read_bytes() == BIG


def _mirror(port: int, local: Path) -> tuple[int, str]:
    url = f"ftp://u:p@127.0.0.1:{port}/d"
    args = ["mirror", "--checksum", "--timeout", "0.5", "--retry-delay", "0", url, str(local)]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


def test_mirror_checksum_gives_a_big_files_hash_the_same_time_as_get(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(BIG)  # the same file: nothing to copy
    done = threading.Event()
    hooks = {"HASH": _slow_hash(1.0, done)}
    files = {"/d/a.bin": BIG}
    with FileServer(files, dirs=("/d",), feat=(MLST, "HASH SHA-256*"), hooks=hooks) as server:
        code, err = _mirror(server.port, tmp_path)
        done.set()
    assert code == 0, err
    assert "nothing to do" in err
    assert (server.count("HASH"), server.count("RETR")) == (1, 0)


def test_mirror_checksum_that_never_comes_is_asked_once(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(BIG)
    done = threading.Event()
    hooks = {"HASH": _slow_hash(60, done)}
    files = {"/d/a.bin": BIG}
    with FileServer(files, dirs=("/d",), feat=(MLST, "HASH SHA-256*"), hooks=hooks) as server:
        code, err = _mirror(server.port, tmp_path)
        done.set()
    assert code == 4, err
    assert "/d/a.bin: the server did not tell its checksum within 2 s" in err
    assert (server.count("HASH"), server.count("RETR")) == (1, 0)
