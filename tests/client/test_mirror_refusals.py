"""mirror when the server refuses one file for good (550, 553): the others are copied, the
refused one is said, and the run ends with exit 1 (as lftp and rsync go on and report)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.scripted import MLST, FileServer, Session


def _refuse_b(session: Session, arg: str) -> bool:
    if arg.endswith("b.txt"):
        session.send("550 b.txt: No such file or directory.")
        return True
    return False  # the server's own RETR


def _mirror(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["mirror", "--retries", "0", *args])
    return result.exit_code, result.stderr


def test_a_refused_download_leaves_the_others_copied(tmp_path: Path) -> None:
    files = {"/d/a.txt": b"first", "/d/b.txt": b"gone meanwhile", "/d/c.txt": b"third"}
    hooks = {"RETR": _refuse_b}
    with FileServer(files, dirs=("/d",), feat=("SIZE", MLST), hooks=hooks) as server:
        code, err = _mirror(f"ftp://u:p@127.0.0.1:{server.port}/d", str(tmp_path))
    assert code == 1, err
    assert (tmp_path / "a.txt").read_bytes() == b"first"
    assert (tmp_path / "c.txt").read_bytes() == b"third"
    assert not (tmp_path / "b.txt").exists()
    assert "Not copied: b.txt (RETR" in err
    assert "copied 2 files (10 bytes)" in err
    assert "1 of 3 files could not be copied (the first: b.txt: RETR" in err


def test_a_local_file_gone_before_its_upload_leaves_the_others_copied(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (source / name).write_text(name)

    def stor(session: Session, arg: str) -> bool:
        (source / "c.txt").unlink(missing_ok=True)  # gone while the first file goes up
        return False

    with FileServer({}, dirs=("/d",), feat=("SIZE", MLST), hooks={"STOR": stor}) as server:
        code, err = _mirror(str(source), f"ftp://u:p@127.0.0.1:{server.port}/d")
        stored = dict(server.files)
    assert code == 1, err
    assert stored == {"/d/a.txt": b"a.txt", "/d/b.txt": b"b.txt"}
    assert "Not copied: c.txt (gone from" in err
