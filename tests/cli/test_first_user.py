"""The first start on an empty store: the user it makes is an ordinary FTP user (no setup
warnings, no console), and what it prints makes an administrator when run as printed."""

from __future__ import annotations

import ftplib
import re
import shlex
import subprocess
from pathlib import Path

import httpx
import pytest
from tests.admin.support import wait_for
from tests.cli import support
from tests.cli.support import PASV, _free_port, _read_until, _serve

from pasv.config import load_settings
from pasv.server.firstuser import administrator_hints

stop = support.stop
ADMIN, PASSWORD = "boss", "the-admins-password"


def _run(command: str) -> str:
    """One printed `pasv ...` command, NAME being the administrator to make."""
    argv = shlex.split(command.replace("NAME", ADMIN))
    assert argv[0] == "pasv"
    if argv[1:3] == ["user", "add"]:
        argv += ["--password", PASSWORD]
    done = subprocess.run([*PASV, *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _warnings(port: int, user: str, password: str) -> str:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login(user, password)
        try:
            return ftp.sendcmd("SITE WARNINGS")
        except ftplib.error_perm as exc:
            return str(exc)


def test_the_first_start_says_how_to_make_an_administrator(tmp_path: Path, stop: list) -> None:
    port = _free_port()
    proc = _serve(tmp_path / "da ta", port, "--admin", "--admin-port", "0", "--allow-root")
    stop.append(proc)
    lines = [line.strip() for line in _read_until(proc, r"admin console on")]
    url = next(line for line in lines if line.startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    console = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])[1]  # type: ignore[index]
    # the first user is what it was: it may log in and transfer, not read the setup warnings
    assert _warnings(port, user, password).startswith("550 ")
    assert any(f"{user!r} is an FTP user, not an administrator" in line for line in lines)
    make = next(line for line in lines if line.startswith("pasv group add"))
    for command in make.split(" && "):
        _run(command)
    # an administrator now (a change to the store applies within a second)
    wait_for(lambda: _warnings(port, ADMIN, PASSWORD).startswith("200"), what="the group")
    assert _warnings(port, user, password).startswith("550 ")  # and the first user is not
    with httpx.Client(base_url=console, timeout=10) as web:
        r = web.post("/console/login", data={"user": ADMIN, "password": PASSWORD})
        assert r.status_code == 303
        r = web.post("/console/login", data={"user": user, "password": password})
        assert r.status_code == 200 and "Login failed" in r.text
    token = next(line for line in lines if line.startswith("pasv admin token create"))
    secret = _run(token).strip().splitlines()[-1]
    with httpx.Client(base_url=console, timeout=10) as web:
        assert web.post("/console/login", data={"token": secret}).status_code == 303


@pytest.mark.parametrize("admin", [True, False])
def test_the_hints_name_this_store_and_the_console_only_when_it_is_served(admin: bool) -> None:
    environ = {"PASV_ADMIN_ENABLED": str(admin).lower(), "PASV_SERVER_DATA_DIR": "/srv/my ftp"}
    hints = administrator_hints(load_settings(None, None, environ=environ))
    text = "\n".join(hints)
    commands = len(re.findall(r"pasv (?:user|group|admin) ", text))
    assert commands == text.count("--data-dir '/srv/my ftp'") == 4 + admin
    assert any("token create" in line for line in hints) is admin
    default = administrator_hints(load_settings(None, None, environ={}))
    assert not any("--data-dir" in line for line in default)
