"""`pasv serve` started as root: workers serve as an unprivileged user (checked in /proc), files
are theirs with the umask, SIGHUP and respawn still work, and a checkout and data directory under
a mode-0700 home (as /root) keep working; without a user to switch to it refuses."""

from __future__ import annotations

import ftplib
import io
import os
import pwd
import re
import shutil
import signal
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.admin.support import token
from tests.cli import support
from tests.cli.support import Pasv, _free_port, _read_until, _serve, needs_root
from tests.support.ftps import ReusingFTP_TLS, make_pki, served_fingerprint

import pasv

stop = support.stop
system_user = support.system_user
SRC = Path(pasv.__file__).resolve().parents[1]


def _ids(pid: int) -> dict[str, list[str]]:
    """Uid/Gid (real, effective, saved, file system) and Groups of every thread of ``pid``."""
    seen: dict[str, list[str]] = {"Uid": [], "Gid": [], "Groups": []}
    for task in os.listdir(f"/proc/{pid}/task"):
        for line in Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in seen:
                seen[key].append(value.strip())
    return seen


def _assert_unprivileged(pid: int, user: pwd.struct_passwd) -> None:
    ids = _ids(pid)
    assert ids["Uid"] and set(ids["Uid"]) == {"\t".join([str(user.pw_uid)] * 4)}, ids
    assert set(ids["Gid"]) == {"\t".join([str(user.pw_gid)] * 4)}, ids
    assert set(ids["Groups"]) == {""}, ids  # no supplementary group left


def _credentials(lines: list[str]) -> tuple[str, str]:
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    found = re.match(r"ftp://([^:]+):([^@]+)@", url)
    assert found is not None
    return found.group(1), found.group(2)


def _pids(lines: list[str]) -> set[int]:
    return {int(m.group(1)) for line in lines if (m := re.search(r"pid (\d+)", line))}


def _ftps_fingerprint(
    port: int, login: tuple[str, str], context: ssl.SSLContext, upload: str = "", when: str = ""
) -> str:
    """The certificate a new FTPS session is served; ``upload`` a file in that session (so on
    that worker) when it is served the certificate ``when``."""
    with ReusingFTP_TLS(context=context, timeout=10) as ftp:
        ftp.connect("127.0.0.1", port)
        ftp.auth()
        ftp.login(*login)
        assert isinstance(ftp.sock, ssl.SSLSocket)
        seen = served_fingerprint(ftp.sock)
        if upload and seen == when:
            ftp.prot_p()
            ftp.storbinary(f"STOR {upload}", io.BytesIO(b"a"))
        return seen


@needs_root
def test_every_worker_serves_as_the_user_even_from_a_closed_home(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    home = tmp_path / "home"  # like /root: mode 0700, owned by root; the user cannot enter
    home.mkdir()
    os.chmod(home, 0o700)
    checkout = home / "checkout"
    shutil.copytree(SRC / "pasv", checkout / "src" / "pasv")  # the code runs from in there too
    env = {**os.environ, "PYTHONPATH": str(checkout / "src"), "PASV_SERVER_UMASK": "027"}
    where = subprocess.run(
        [sys.executable, "-c", "import pasv; print(pasv.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(checkout))
    pki = make_pki(home / "pki")
    os.chmod(pki.chain_file, 0o600)  # key and chain: root's alone, read before the switch
    first = pki.issue(pki.chain_file)
    data = checkout / "pasv-data"
    port = _free_port()
    argv = ["--user", system_user.pw_name, "--workers", "2", "--certificate", str(pki.chain_file)]
    proc = _serve(data, port, *argv, env=env)
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    lines += _read_until(proc, r"listening on")
    assert f"Serving as user {system_user.pw_name} (uid {system_user.pw_uid})" in "\n".join(lines)
    workers = _pids(lines)
    assert len(workers) == 2 and proc.pid not in workers
    for pid in workers:
        _assert_unprivileged(pid, system_user)
    login = _credentials(lines)

    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login(*login)
        ftp.storbinary("STOR up.bin", io.BytesIO(b"x" * 1000))
        got = bytearray()  # read back through the held data directory
        assert ftp.retrbinary("RETR up.bin", got.extend).startswith("226")
        assert got == b"x" * 1000
        link = data / "files" / "link.bin"
        link.symlink_to("up.bin")  # inside a held directory a link is refused, as documented
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.retrbinary("RETR link.bin", got.extend)
        link.unlink()
        ftp.mkd("newdir")
        assert ftp.sendcmd("MFMT 20200102030405 up.bin").startswith("213")
        ftp.set_pasv(False)  # active mode: the server connects back to us
        assert ftp.nlst() == ["newdir", "up.bin"]
    uploaded = os.stat(data / "files" / "up.bin")
    assert (uploaded.st_uid, uploaded.st_gid) == (system_user.pw_uid, system_user.pw_gid)
    assert stat.S_IMODE(uploaded.st_mode) == 0o640  # umask 027
    made = os.stat(data / "files" / "newdir")
    assert made.st_uid == system_user.pw_uid and stat.S_IMODE(made.st_mode) == 0o750
    assert os.stat(data / "accounts.sqlite3").st_uid == system_user.pw_uid

    assert _ftps_fingerprint(port, login, pki.client_context()) == first
    second = pki.issue(pki.chain_file)
    (data / "xferlog").rename(data / "xferlog.1")  # as logrotate would
    os.kill(proc.pid, signal.SIGHUP)  # the privileged parent reads it for the workers
    deadline = time.monotonic() + 15
    while _ftps_fingerprint(port, login, pki.client_context(), "after.bin", second) != second:
        assert time.monotonic() < deadline, "the new certificate was never served"
    # the worker that served it reopened the transfer log in the same message
    assert "/after.bin" in (data / "xferlog").read_text()
    assert "/up.bin" in (data / "xferlog.1").read_text()
    assert "/after.bin" not in (data / "xferlog.1").read_text()

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    replacement = _pids(_read_until(proc, r"listening on"))
    assert len(replacement) == 1 and not replacement & workers
    _assert_unprivileged(replacement.pop(), system_user)
    for _ in range(4):  # either worker, the new one included
        with ftplib.FTP() as ftp:
            ftp.connect("127.0.0.1", port, timeout=10)
            ftp.login(*login)
            assert ftp.size("up.bin") == 1000


@needs_root
@pytest.mark.parametrize("user", ["pasv-no-such-user", "root"])
def test_refuses_to_serve_as_root_without_a_user_to_switch_to(tmp_path: Path, user: str) -> None:
    data = tmp_path / "data"
    port = _free_port()
    proc = _serve(data, port, "--user", user)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    assert "Cannot start:" in out and "--allow-root" in out, out
    assert "listening" not in out
    assert not data.exists()  # refused before anything was created


@needs_root
def test_allow_root_keeps_root_and_warns_once(tmp_path: Path, stop: list) -> None:
    pki = make_pki(tmp_path / "pki")
    port = _free_port()
    argv = ["--allow-root", "--workers", "2", "--certificate", str(pki.chain_file)]
    proc = _serve(tmp_path / "data", port, *argv)
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    lines += _read_until(proc, r"listening on")
    for pid in _pids(lines):
        assert _ids(pid)["Uid"][0].split("\t") == ["0"] * 4
    warned = [line for line in lines if line.startswith("Warning:")]
    assert len(warned) == 1 and "serves clients as root (--allow-root)" in warned[0]
    logged = [line for line in lines if "WARNING pasv.server:" in line]
    assert len(logged) == 1 and "as root" in logged[0]


@needs_root
@pytest.mark.parametrize("planted", ["accounts.sqlite3-wal", "xferlog", "tls/self-signed.key"])
def test_root_never_follows_a_link_planted_in_the_data_directory(
    tmp_path: Path, planted: str
) -> None:
    """The serving user owns the data directory: a link it left there (say, a compromised
    worker) must not make the next start, as root, write through it."""
    data = tmp_path / "data"
    Pasv(data).ok("user", "add", "alice", "--password", "pw")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    os.chmod(victim, 0o600)
    link = data / planted
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(victim)
    proc = _serve(data, _free_port())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Cannot start:" in out, out
    assert "Traceback" not in out
    assert victim.read_bytes() == b"precious\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600 and victim.stat().st_uid == 0


@needs_root
def test_the_admin_api_serves_from_a_closed_home(
    tmp_path: Path, stop: list[subprocess.Popen[str]], system_user: pwd.struct_passwd
) -> None:
    """The admin API's own connection to the store is opened before the switch too: as the
    serving user, SQLite could not open the database by the held directory's path."""
    home = tmp_path / "home"  # mode 0700, root's: the serving user cannot walk to the data
    home.mkdir()
    os.chmod(home, 0o700)
    data = home / "pasv-data"
    pasv = Pasv(data)
    pasv.ok("user", "add", "bob", "--password", "pw")
    viewer = token(pasv, "viewer", "read")
    argv = ["--user", system_user.pw_name, "--workers", "2", "--admin", "--admin-port", "0"]
    proc = _serve(data, _free_port(), *argv)
    stop.append(proc)
    lines = _read_until(proc, r"admin console on http://")
    base = re.search(r"(http://[\d.]+:\d+)/console/", lines[-1])[1]  # type: ignore[index]
    users = httpx.get(f"{base}/api/v1/users", headers={"Authorization": f"Bearer {viewer}"})
    assert users.status_code == 200, users.text
    assert "bob" in users.text
    assert not [line for line in lines if "could not start" in line or "Traceback" in line]
    assert proc.poll() is None
