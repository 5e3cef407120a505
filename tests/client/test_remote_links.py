"""Symbolic links in a server's listing: get of a pattern fetches a link to a file, says
which link it could not fetch, and mirror says each link it does not copy."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.scripted import FileServer, Session

runner = CliRunner()
LINKS = (
    "-rw-r--r--   1 ftp      ftp            5 Jan 02  2024 real.txt\r\n"
    "lrwxrwxrwx   1 ftp      ftp            8 Jan 02  2024 link.txt -> real.txt\r\n"
    "lrwxrwxrwx   1 ftp      ftp            3 Jan 02  2024 dirlink.txt -> sub\r\n"
)


def _listing(session: Session, arg: str) -> bool:
    session.transfer(LINKS.encode())
    return True


def _server() -> FileServer:
    files = {"/d/real.txt": b"real\n", "/d/link.txt": b"real\n"}  # the server follows link.txt
    return FileServer(files, dirs=("/d",), feat=("SIZE", "UTF8"), hooks={"LIST": _listing})


def test_get_of_a_pattern_fetches_links_to_files_and_says_which_it_skipped(
    tmp_path: Path,
) -> None:
    with _server() as server:
        result = runner.invoke(
            app,
            ["get", f"ftp://u:p@127.0.0.1:{server.port}/d/*.txt", str(tmp_path), "--retries", "0"],
            catch_exceptions=False,
        )
    text = result.stdout + result.stderr
    assert result.exit_code == 0, text
    assert (tmp_path / "link.txt").read_bytes() == b"real\n"
    assert (tmp_path / "real.txt").read_bytes() == b"real\n"
    assert not (tmp_path / "dirlink.txt").exists()
    assert "Skipped /d/dirlink.txt: a symbolic link" in " ".join(text.split())


def test_mirror_says_each_link_on_the_server_it_does_not_copy(tmp_path: Path) -> None:
    with _server() as server:
        result = runner.invoke(
            app,
            ["mirror", f"ftp://u:p@127.0.0.1:{server.port}/d", str(tmp_path), "--retries", "0"],
            catch_exceptions=False,
        )
    text = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 0, text
    assert (tmp_path / "real.txt").read_bytes() == b"real\n"
    assert not (tmp_path / "link.txt").exists()
    assert "Not copying link.txt: it is a symbolic link on the server." in text
    assert "Not copying dirlink.txt" in text
