"""CLI commands that must not repeat or merge data: cat after a retry, put of two same names."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.scripted import FileServer, Session

runner = CliRunner()
DATA = b"".join(b"line %05d\n" % i for i in range(2000))


def _breaks_first_retr(session: Session, arg: str) -> bool:
    """The first RETR sends half the file, then 426; later ones are served as usual."""
    server = session.server
    if server.count("RETR") > 1:
        return False
    session.send("150 Here it comes.")
    with session.data() as sock:
        sock.sendall(DATA[: len(DATA) // 2])
    session.send("426 Connection closed; transfer aborted.")
    return True


def _cat(port: int) -> tuple[int, bytes, str]:
    args = ["cat", "--retry-delay", "0", f"ftp://u:p@127.0.0.1:{port}/log.txt"]
    result = runner.invoke(app, args)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_cat_resumes_after_a_broken_transfer_instead_of_repeating() -> None:
    with FileServer({"/log.txt": DATA}, hooks={"RETR": _breaks_first_retr}) as server:
        code, out, err = _cat(server.port)
    assert code == 0, err
    assert out == DATA
    assert f"REST {len(DATA) // 2}" in server.commands


def test_cat_fails_rather_than_repeat_when_the_server_cannot_resume() -> None:
    def no_rest(session: Session, arg: str) -> bool:
        session.send("502 REST not implemented.")
        return True

    hooks = {"RETR": _breaks_first_retr, "REST": no_rest}
    with FileServer({"/log.txt": DATA}, hooks=hooks) as server:
        code, out, err = _cat(server.port)
    assert code == 1
    assert out == DATA[: len(DATA) // 2]
    assert "cannot resume" in err and "incomplete" in err


def test_put_refuses_two_files_with_one_remote_name(tmp_path: Path) -> None:
    for folder, data in (("a", b"A" * 10), ("b", b"B" * 20)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_bytes(data)
    with FileServer(dirs=("/in",)) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/in/"
        result = runner.invoke(
            app, ["put", str(tmp_path / "a/x.txt"), str(tmp_path / "b/x.txt"), url]
        )
    assert result.exit_code == 2
    assert "would both be uploaded to /in/x.txt" in result.stderr
    assert server.files == {} and server.commands == []
