"""What a server sends reaches the terminal without its control characters: file names and
reply texts with escape sequences are printed as \\xNN, never as escapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import SyncFtpClient
from tests.client.scripted import FileServer, Session

EVIL = "evil\x1b]0;owned\x07\x1b[2J\x9b31m.txt"  # retitle, clear, C1 CSI


def _refuse(session: Session, arg: str) -> bool:
    session.send("550 \x1b[2J\x1b[31mno such file\x1b[0m")
    return True


def test_names_and_replies_with_escape_sequences_are_printed_escaped(tmp_path: Path) -> None:
    with FileServer({f"/{EVIL}": b"x", "/ok.txt": b"y"}, hooks={"RETR": _refuse}) as server:
        base = f"ftp://u:p@127.0.0.1:{server.port}"
        listed = CliRunner().invoke(app, ["ls", f"{base}/"])
        long = CliRunner().invoke(app, ["ls", "-l", f"{base}/"])
        got = CliRunner().invoke(app, ["get", "-v", f"{base}/ok.txt", str(tmp_path / "ok.txt")])
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines() == ["evil\\x1b]0;owned\\x07\\x1b[2J\\x9b31m.txt", "ok.txt"]
    assert long.exit_code == 0, long.stderr
    assert "evil\\x1b]0;owned\\x07\\x1b[2J\\x9b31m.txt" in long.stdout
    assert got.exit_code == 1
    assert "Error: RETR: 550 \\x1b[2J\\x1b[31mno such file\\x1b[0m" in got.stderr
    assert "Response: 550 \\x1b[2J" in got.stderr  # the -v session log too
    for output in (listed.stdout, long.stdout, got.stderr):
        assert not any(c in output for c in "\x1b\x07\x9b"), output


def test_a_line_break_is_never_sent_as_a_second_command() -> None:
    """A library caller's name (from a hostile listing, say) or password cannot smuggle a
    command: the line is refused (ValueError, a bad argument) before anything is sent."""
    with FileServer({"/a.txt": b"x", "/b.txt": b"y"}) as server:
        with SyncFtpClient() as ftp:
            ftp.connect("127.0.0.1", server.port)
            with pytest.raises(ValueError, match=r"'PASS \*+' contains a line break or NUL"):
                ftp.login("u", "p\r\nDELE b.txt")  # and the password is not shown
        with SyncFtpClient() as ftp:
            ftp.connect("127.0.0.1", server.port)
            ftp.login("u", "p")
            for name in ("a.txt\r\nDELE b.txt", "a.txt\nDELE b.txt", "a.txt\0DELE b.txt"):
                with pytest.raises(ValueError, match="line break or NUL"):
                    ftp.size(name)
            assert ftp.size("b.txt") == 1  # the session goes on
    assert server.count("DELE") == 0
    assert "/b.txt" in server.files
