"""Logs recorded from real clients (curl -v, lftp debug, Python ftplib debug) against servers
misconfigured by the test, then read back by `pasv explain --log`."""

from __future__ import annotations

import contextlib
import ftplib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from tests.diagnostics.peer_support import pyftpd, session_of, vsftpd

runner = CliRunner()


def explain_log(log: str, lang: str = "en") -> dict[str, object]:
    result = runner.invoke(app, ["explain", "--json", "--lang", lang, "--log", "-"], input=log)
    assert result.exit_code == 0, result.output
    story: dict[str, object] = json.loads(result.stdout)
    return story


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (make test installs it with apt-get)")


def test_curl_against_a_per_ip_limit(tmp_path: Path) -> None:
    _needs("curl")
    with pyftpd(tmp_path / "root", server={"max_cons_per_ip": 1}) as server:
        peer = server.peer()
        with session_of(peer):
            run = subprocess.run(
                ["curl", "-v", "-sS", "--max-time", "10", peer.url("/")],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
    assert "< 421 Too many connections from the same IP address." in run.stderr
    story = explain_log(run.stderr, "zh-Hant")
    assert story["kind"] == "session_limit_per_ip"
    assert "FTPServer.max_cons_per_ip" in " ".join(story["advice"]["causes"])  # type: ignore[index]
    assert story["advice"]["title"] == "同一地址的會話過多"  # type: ignore[index]


def test_lftp_against_a_server_without_active_mode() -> None:
    _needs("lftp")
    with vsftpd("port_enable=NO\n") as server:
        peer = server.peer()
        script = "set net:max-retries 1; set net:timeout 5; set ftp:passive-mode off; ls; bye"
        run = subprocess.run(
            ["lftp", "-d", "-e", script, "-u", f"{peer.user},{peer.password}",
             f"ftp://{peer.host}:{peer.port}"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    log = run.stdout + run.stderr
    assert "---> PORT" in log and "<--- 550 Permission denied." in log
    story = explain_log(log)
    assert story["kind"] == "active_refused"
    assert "port_enable" in " ".join(story["advice"]["causes"])  # type: ignore[index]
    assert peer.password not in json.dumps(story)  # lftp printed it; pasv does not repeat it


def test_ftplib_trusting_a_wrong_passive_address(tmp_path: Path) -> None:
    """pyftpdlib announcing 127.0.0.9 (a masquerade address that is not the server's): ftplib
    connects there (as ftplib did before Python 3.9, and as most libraries do) and is
    refused; the story names the announced address."""
    with pyftpd(tmp_path / "root", masquerade_address="127.0.0.9") as server:
        peer = server.peer()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ftp = ftplib.FTP()
            ftp.set_debuglevel(1)
            ftp.trust_server_pasv_ipv4_address = True
            ftp.connect(peer.host, peer.port, timeout=10)
            ftp.login(peer.user, peer.password)
            try:
                with pytest.raises(ConnectionRefusedError) as refused:
                    ftp.nlst()
            finally:
                ftp.close()
    log = f"{out.getvalue()}Traceback (most recent call last):\n{refused.exconly()}\n"
    assert "*resp* '227 Entering passive mode (127,0,0,9," in log
    story = explain_log(log)
    assert story["kind"] == "data_connection_refused"
    assert story["failed"]["stage"] == "data"  # type: ignore[index]
    assert "127.0.0.9" in " ".join(story["decoded"])  # type: ignore[arg-type]


def test_ftplib_with_a_wrong_password(tmp_path: Path) -> None:
    with pyftpd(tmp_path / "root") as server:
        peer = server.peer()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ftp = ftplib.FTP()
            ftp.set_debuglevel(1)
            ftp.connect(peer.host, peer.port, timeout=10)
            try:
                with pytest.raises(ftplib.error_perm) as refused:
                    ftp.login(peer.user, "wrong")
            finally:
                ftp.close()
    log = f"{out.getvalue()}{refused.exconly()}\n"
    story = explain_log(log, "zh-Hans")
    assert story["kind"] == "login_incorrect" and story["failed"]["stage"] == "login"  # type: ignore[index]
    assert "pyftpdlib" in " ".join(story["advice"]["causes"])  # type: ignore[index]


def test_pasv_client_log_against_a_server_refusing_anonymous(tmp_path: Path) -> None:
    """pasv's own `-v` session log, as a user of `pasv ls` would paste it."""
    with pyftpd(tmp_path / "root") as server:
        url = f"ftp://{server.peer().host}:{server.port}/"
        run = subprocess.run(
            [sys.executable, "-m", "pasv", "ls", "-v", "--retries", "0", "--netrc-file", "/none",
             url],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "PASV_PASSWORD": ""},
        )  # fmt: skip
    assert "530 Anonymous access not allowed." in run.stderr
    story = explain_log(run.stderr, "zh-Hant")
    assert story["kind"] == "anonymous_refused"
    assert story["failed"]["stage"] == "login"  # type: ignore[index]
