"""The CLI as a script sees it: the -v session log, credentials, exit codes."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.peers import Peer
from tests.support.live import start_server

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--retries", "0"], env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_verbose_log_shows_the_session_with_the_password_censored(pasv: Peer) -> None:
    code, out, err = cli("ls", pasv.url("/"), "-v")
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("Status:   Connecting to 127.0.0.1:")
    assert "Response: 220" in lines[1]
    assert f"Command:  USER {pasv.user}" in lines
    assert "Command:  PASS ****" in lines
    assert any(line.startswith("Response: 230") for line in lines)
    assert any(line.startswith("Command:  EPSV") for line in lines)
    assert pasv.password not in out + err


def test_quiet_prints_nothing_but_the_data(pasv: Peer, tmp_path: Path) -> None:
    pasv.put("q.txt", b"quiet")
    code, out, err = cli("get", pasv.url("/q.txt"), str(tmp_path / "q.txt"), "-q")
    assert (code, out, err) == (0, "", "")
    code, out, err = cli("get", pasv.url("/q.txt"), str(tmp_path / "q2.txt"))
    assert "Downloaded /q.txt" in err and "verified by sha256" in err


def test_password_from_the_environment(pasv: Peer) -> None:
    url = f"ftp://{pasv.user}@{pasv.host}:{pasv.port}/"
    code, _, err = cli("ls", url, "-v", env={"PASV_PASSWORD": pasv.password})
    assert code == 0, err
    assert pasv.password not in err


def test_credentials_from_netrc(pasv: Peer, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {pasv.host} login {pasv.user} password {pasv.password}\n")
    netrc.chmod(0o600)
    url = f"ftp://{pasv.host}:{pasv.port}/"
    assert cli("ls", url, "--netrc-file", str(netrc))[0] == 0
    # A netrc entry for another login does not apply.
    code, _, err = cli("ls", f"ftp://mallory@{pasv.host}:{pasv.port}/", "--netrc-file", str(netrc))
    assert code == 2
    assert "no password" in err


def test_percent_encoded_credentials_in_the_url(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        server.add_user("d@ve", "p@ss:w/rd%")
        user, password = quote("d@ve", safe=""), quote("p@ss:w/rd%", safe="")
        code, _, err = cli("mkdir", f"ftp://{user}:{password}@{server.host}:{server.port}/made")
        assert code == 0, err
        assert (server.files / "made").is_dir()
    finally:
        server.stop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("case", "expected"),
    [("ok", 0), ("missing", 1), ("bad-url", 2), ("wrong-password", 3), ("no-server", 4)],
)
def test_exit_codes(pasv: Peer, case: str, expected: int) -> None:
    urls = {
        "ok": pasv.url("/"),
        "missing": pasv.url("/no/such/file"),
        "bad-url": f"http://{pasv.host}/",
        "wrong-password": f"ftp://{pasv.user}:wrong@{pasv.host}:{pasv.port}/",
        "no-server": f"ftp://u:p@127.0.0.1:{_closed_port()}/",
    }
    command = "rm" if case == "missing" else "ls"
    code, _, err = cli(command, urls[case])
    assert code == expected, err
    if expected:
        assert err.startswith("Error: ")
        assert "Traceback" not in err
