"""Local files a download must not harm: nothing changes before the server sends the file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.peers import Peer
from tests.client.scripted import FileServer, Session

runner = CliRunner()


def pasv_cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--retries", "0"], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_a_refused_get_leaves_the_local_file_as_it_was(pasv: Peer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"my own notes, not from the server\n")
    code, text = pasv_cli("get", pasv.url("/notes.txt"), str(notes))
    assert code == 1, text
    assert notes.read_bytes() == b"my own notes, not from the server\n"


def test_mirror_leaves_a_file_whose_retr_is_refused_as_it_was(tmp_path: Path) -> None:
    def refuse_secret(session: Session, arg: str) -> bool:
        if arg.endswith("secret.db"):
            session.send("550 Permission denied.")
            return True
        return False

    files = {"/site/secret.db": b"new" * 1000, "/site/ok.txt": b"ok\n"}
    local = tmp_path / "site"
    local.mkdir()
    (local / "secret.db").write_bytes(b"yesterday's good copy\n")
    with FileServer(files, dirs=("/site",), hooks={"RETR": refuse_secret}) as server:
        code, text = pasv_cli("mirror", f"ftp://u:p@127.0.0.1:{server.port}/site", str(local))
    assert code == 1, text
    assert "Permission denied" in text
    assert (local / "secret.db").read_bytes() == b"yesterday's good copy\n"


def test_mirror_never_writes_through_a_link_in_the_local_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "important.conf"
    victim.write_text("KEEP ME\n")
    local = tmp_path / "site"
    local.mkdir()
    (local / "config.txt").symlink_to(victim)
    (local / "shared").symlink_to(outside)
    files = {"/site/config.txt": b"from the server\n", "/site/shared/new.txt": b"x\n"}
    with FileServer(files, dirs=("/site", "/site/shared")) as server:
        code, text = pasv_cli("mirror", f"ftp://u:p@127.0.0.1:{server.port}/site", str(local))
    assert code == 0, text
    assert victim.read_text() == "KEEP ME\n"
    assert sorted(p.name for p in outside.iterdir()) == ["important.conf"]
    config = local / "config.txt"
    assert not config.is_symlink() and config.read_bytes() == b"from the server\n"
    assert "Not writing shared/new.txt: shared is a symbolic link to a directory" in text
    assert "copied 1 files" in text


def test_get_into_a_missing_directory_named_with_a_slash_makes_it(tmp_path: Path) -> None:
    with FileServer({"/a.bin": b"x" * 100}) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/a.bin"
        code, text = pasv_cli("get", url, f"{tmp_path / 'new' / 'dir'}/")
    assert code == 0, text
    assert (tmp_path / "new" / "dir" / "a.bin").read_bytes() == b"x" * 100
