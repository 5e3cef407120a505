"""What a worker reads after it switched to the serving user: started as root without
--allow-root, from a checkout the serving user cannot reach (under a mode-0700 home, as /root),
the console's pages, the reply languages and the logs a SIGHUP reopens keep working."""

from __future__ import annotations

import ftplib
import io
import os
import pwd
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from tests.admin.support import token
from tests.cli.support import Pasv, _free_port, _read_until, _serve, needs_root, stop, system_user
from tests.support.ftps import ReusingFTP_TLS

import pasv

__all__ = ["stop", "system_user"]  # fixtures
SRC = Path(pasv.__file__).resolve().parents[1]
PAGES = ["/", "/users", "/groups", "/rules", "/bans", "/transfers", "/log", "/why"]


def _closed_checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A mode-0700 home of root's holding a copy of pasv's code (templates and words too),
    and the environment that runs pasv from there."""
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o700)
    shutil.copytree(SRC / "pasv", home / "src" / "pasv")
    return home, {**os.environ, "PYTHONPATH": str(home / "src")}


def _start(
    tmp_path: Path,
    user: pwd.struct_passwd,
    stop: list[subprocess.Popen[str]],
    workers: int = 2,
    leftovers: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], Path, int, str, str]:
    """`pasv serve` as root, switching to ``user``, with the admin API: the process, its data
    directory, FTP port, admin base URL and a read/write token. ``leftovers``: files of the data
    directory made first, root's and mode 0640 (as a start with --allow-root leaves them)."""
    home, env = _closed_checkout(tmp_path)
    data = home / "pasv-data"
    store = Pasv(data)
    store.ok("user", "add", "alice", "--password", "pw")
    secret = token(store, "ops", "read,write")
    for name in leftovers:
        (data / name).write_text("")
        os.chmod(data / name, 0o640)
    port = _free_port()
    argv = ["--user", user.pw_name, "--workers", str(workers), "--admin", "--admin-port", "0"]
    proc = _serve(data, port, *argv, env=env)
    stop.append(proc)
    lines = _read_until(proc, r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])[1]  # type: ignore[index]
    assert f"Serving as user {user.pw_name}" in "\n".join(lines)
    return proc, data, port, base, secret


@needs_root
def test_the_console_pages_render_after_the_switch(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """Templates read and compiled before it (the serving user reaches neither them nor,
    where Python lives under /root, the codec Jinja2 compiles with), words too."""
    _proc, _data, _port, base, secret = _start(tmp_path, system_user, stop)
    with httpx.Client(base_url=base) as web:
        assert web.get("/console/login").status_code == 200
        login = web.post("/console/login", data={"token": secret})
        assert login.status_code == 303, login.text
        for lang, word in (("en", "Users"), ("zh-Hans", "用户")):
            web.cookies.set("pasv_lang", lang, path="/console")
            for page in PAGES:
                answer = web.get(f"/console{page}")
                assert answer.status_code == 200, (page, lang, answer.text[:200])
            assert word in web.get("/console/users").text


@needs_root
def test_reply_languages_and_the_version_after_the_switch(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """LANG's catalogues and the version GET /status names are read before the switch."""
    _proc, _data, port, base, secret = _start(tmp_path, system_user, stop)
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("alice", "pw")
        assert ftp.sendcmd("LANG zh-Hans").startswith("200")
        assert ftp.sendcmd("NOOP") == "200 NOOP 可以。"
    status = httpx.get(f"{base}/api/v1/status", headers={"Authorization": f"Bearer {secret}"})
    assert status.status_code == 200 and status.json()["version"] == pasv.__version__


def _session(port: int, upload: str) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("alice", "pw")
        ftp.storbinary(f"STOR {upload}", io.BytesIO(b"x"))


@needs_root
def test_the_logs_stay_the_serving_users_and_are_reopened_on_sighup(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """The session log is the serving user's from the start, so the admin API (serving as that
    user) reads it back; after a rotation SIGHUP reopens it too, and the privileged parent
    gives the new session and transfer logs to the serving user."""
    proc, data, port, base, secret = _start(tmp_path, system_user, stop, workers=1)
    api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {secret}"})

    def seen(what: str) -> list[dict[str, object]]:
        answer = api.get(what, params={"limit": 50})
        assert answer.status_code == 200, answer.text
        found: list[dict[str, object]] = answer.json()
        return found

    _session(port, "before.bin")
    assert [e["user"] for e in seen("/session-log") if e["event"] == "login"] == ["alice"]
    assert [e["path"] for e in seen("/transfers")] == ["/before.bin"]
    for name in ("sessions.log", "xferlog"):
        assert (data / name).stat().st_uid == system_user.pw_uid
        (data / name).rename(data / f"{name}.1")  # as logrotate would
    os.kill(proc.pid, signal.SIGHUP)
    deadline, tries = time.monotonic() + 15, 0
    while not (data / "sessions.log").exists() or not (data / "sessions.log").stat().st_size:
        assert time.monotonic() < deadline, "the session log was never reopened"
        tries += 1  # a session before the worker reopened them wrote to the old files
        _session(port, f"after{tries}.bin")
    for name in ("sessions.log", "xferlog"):
        made = (data / name).stat()
        assert (made.st_uid, made.st_gid) == (system_user.pw_uid, system_user.pw_gid), name
    assert {e["user"] for e in seen("/session-log")} == {"alice"}
    last = f"/after{tries}.bin"  # the one logged in the new session log: both were reopened
    paths = [e["path"] for e in seen("/transfers")]  # newest first; an earlier session may
    assert paths[0] == last and "/before.bin" not in paths  # have logged in before, sent after
    assert last not in (data / "xferlog.1").read_text()
    api.close()


_RECORDER = """
import os, sys

_fd = os.open({path!r}, os.O_WRONLY | os.O_APPEND)  # as root, at start: the workers inherit it

def _record(event, args):
    if event == "import" and os.geteuid() != 0:
        os.write(_fd, (args[0] + "\\n").encode())

sys.addaudithook(_record)
"""


@needs_root
def test_a_worker_imports_nothing_after_the_switch(
    tmp_path: Path,
    stop: list[subprocess.Popen[str]],
    system_user: pwd.struct_passwd,
    request: pytest.FixtureRequest,
) -> None:
    """Every module the FTP server, the admin API and the console use is imported before the
    switch: where the serving user cannot reach the virtualenv or Python itself, a module
    imported later fails (seen through an audit hook in each worker)."""
    recorded = tmp_path / "imported-after-the-switch"
    recorded.touch()
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_RECORDER.format(path=str(recorded)))
    home, env = _closed_checkout(tmp_path)
    env["PYTHONPATH"] = f"{hook}:{env['PYTHONPATH']}"
    data = home / "pasv-data"
    store = Pasv(data)
    store.ok("user", "add", "alice", "--password", "pw")
    secret = token(store, "ops", "read,write")
    delivered = Path(tempfile.mkdtemp(prefix="pasv-hook-"))  # in /tmp: the serving user's hook
    request.addfinalizer(lambda: shutil.rmtree(delivered))  # (run as that user) writes there
    os.chown(delivered, system_user.pw_uid, system_user.pw_gid)
    config = tmp_path / "pasv.toml"
    config.write_text(
        f'[[hooks]]\nevents = ["upload_complete"]\n'
        f'command = ["/bin/cp", "/dev/stdin", "{delivered}/e"]\n'
    )
    port = _free_port()
    argv = ["--user", system_user.pw_name, "--workers", "1", "--admin", "--admin-port", "0"]
    proc = _serve(data, port, *argv, "--config", str(config), env=env)
    stop.append(proc)
    lines = _read_until(proc, r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])[1]  # type: ignore[index]
    _session(port, "up.bin")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with ReusingFTP_TLS(context=context, timeout=10) as ftp:
        ftp.connect("127.0.0.1", port)
        ftp.auth()
        ftp.login("alice", "pw")
        ftp.prot_p()
        for command in ("FEAT", "LANG zh-Hans", "MFMT 20200102030405 up.bin", "HASH up.bin"):
            assert ftp.sendcmd(command)[0] == "2", command
        assert ftp.mlsd() and ftp.nlst() == ["up.bin"]
        ftp.retrbinary("RETR up.bin", lambda _: None)
    deadline = time.monotonic() + 15
    while not (delivered / "e").exists():  # the hook ran
        assert time.monotonic() < deadline, "the upload hook never ran"
    with httpx.Client(base_url=base) as web:
        assert web.post("/console/login", data={"token": secret}).status_code == 303
        for page in PAGES:
            assert web.get(f"/console{page}").status_code == 200, page
        bearer = {"Authorization": f"Bearer {secret}"}
        for api in ("status", "users", "transfers", "session-log", "sessions", "throughput"):
            assert web.get(f"/api/v1/{api}", headers=bearer).status_code == 200, api
    assert recorded.read_text().split() == []


@needs_root
def test_logs_left_by_root_are_handed_to_the_serving_user(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """A data directory an --allow-root start used: its admin audit log (root's, 0640) no
    longer stops the admin API's worker from starting, and the API's changes are audited."""
    logs = ("admin-audit.log", "sessions.log", "xferlog")
    proc, data, _port, base, secret = _start(tmp_path, system_user, stop, 1, logs)
    bearer = {"Authorization": f"Bearer {secret}"}
    ban = {"address": "192.0.2.8", "minutes": 5, "reason": "test"}
    made = httpx.post(f"{base}/api/v1/bans", json=ban, headers=bearer)
    assert made.status_code == 201, made.text
    audit = httpx.get(f"{base}/api/v1/audit", headers=bearer).json()
    assert [entry["target"] for entry in audit] == ["192.0.2.8"], audit
    for name in logs:
        assert (data / name).stat().st_uid == system_user.pw_uid, name
    assert proc.poll() is None


def _audit_after_rotation(proc: subprocess.Popen[str], data: Path, base: str, secret: str) -> None:
    """Rotate admin-audit.log as logrotate would, SIGHUP, and ban addresses through the API
    until one is audited in the new file (bans asked before the worker reopened it are in the
    old one); that ban is in the new file only, the API reads it back, no worker was replaced."""
    bearer = {"Authorization": f"Bearer {secret}"}

    def ban(number: int) -> None:
        asked = {"address": f"192.0.2.{number}", "minutes": 5, "reason": "test"}
        made = httpx.post(f"{base}/api/v1/bans", json=asked, headers=bearer)
        assert made.status_code == 201, made.text

    ban(0)  # worker 0 serves: its SIGHUP handler is in place
    workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    (data / "admin-audit.log").rename(data / "admin-audit.log.1")
    os.kill(proc.pid, signal.SIGHUP)
    deadline, tries = time.monotonic() + 15, 0
    new = data / "admin-audit.log"
    while not new.exists() or not new.stat().st_size:
        assert time.monotonic() < deadline, "the audit log was never reopened"
        tries += 1
        ban(tries)
    last = f"192.0.2.{tries}"
    assert last in new.read_text() and last not in (data / "admin-audit.log.1").read_text()
    audit = httpx.get(f"{base}/api/v1/audit", headers=bearer).json()
    assert [entry["target"] for entry in audit] == [last], audit
    assert Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split() == workers


@needs_root
def test_the_audit_log_is_reopened_on_sighup_and_stays_the_serving_users(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """After a rotation the privileged parent opens the audit log again for worker 0 (the
    admin API's) and gives the file it made to the serving user, who appends to it."""
    proc, data, _port, base, secret = _start(tmp_path, system_user, stop)
    _audit_after_rotation(proc, data, base, secret)
    made = (data / "admin-audit.log").stat()
    assert (made.st_uid, made.st_gid) == (system_user.pw_uid, system_user.pw_gid)
    assert proc.poll() is None


@needs_root
def test_the_audit_log_is_reopened_on_sighup_with_allow_root(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    """Serving as root (no privileged parent), worker 0 opens the audit log again itself."""
    data = tmp_path / "pasv-data"
    store = Pasv(data)
    store.ok("user", "add", "alice", "--password", "pw")
    secret = token(store, "ops", "read,write")
    argv = ["--allow-root", "--workers", "1", "--admin", "--admin-port", "0"]
    proc = _serve(data, _free_port(), *argv)
    stop.append(proc)
    lines = _read_until(proc, r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])[1]  # type: ignore[index]
    _audit_after_rotation(proc, data, base, secret)
    assert (data / "admin-audit.log").stat().st_uid == 0
    assert proc.poll() is None
