"""`pasv serve` and `pasv user` as a person runs them: real processes, real ports."""

from __future__ import annotations

import ftplib
import io
import os
import re
import signal
import subprocess
from pathlib import Path

from tests.cli import support
from tests.cli.support import PASV, _free_port, _read_until, _serve

stop = support.stop


def test_first_start_prints_a_ready_url_once(tmp_path: Path, stop: list) -> None:
    port = _free_port()
    proc = _serve(tmp_path / "data", port)
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login(user, password)
        ftp.storbinary("STOR hello.txt", io.BytesIO(b"hi"))
    assert (tmp_path / "data" / "files" / "hello.txt").read_bytes() == b"hi"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)
    again = _serve(tmp_path / "data", port)
    stop.append(again)
    lines = _read_until(again, r"listening on")
    assert not any("ftp://" in line for line in lines)  # the password is shown only once


def test_user_commands_manage_accounts(tmp_path: Path) -> None:
    data = str(tmp_path / "data")

    def pasv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PASV, "user", *args, "--data-dir", data], capture_output=True, text=True, timeout=60
        )

    assert pasv("add", "bob", "--password", "pw-1", "--perms", "read").returncode == 0
    assert pasv("add", "bob", "--password", "pw-2").returncode == 1  # exists
    shown = pasv("show", "bob")
    assert "LIST,RETR" in shown.stdout
    assert "pw-1" not in shown.stdout
    assert pasv("passwd", "bob", "--password", "pw-3").returncode == 0
    assert "bob" in pasv("list").stdout
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("accounts.sqlite3*"))
    assert b"pw-3" not in stored and b"pw-1" not in stored and b"$argon2id$" in stored
    assert pasv("add", "eve", "--password", "x", "--perms", "fly").returncode == 2
    assert pasv("del", "bob").returncode == 0
    assert pasv("del", "bob").returncode == 1


def test_bad_config_names_file_key_and_problem(tmp_path: Path) -> None:
    config = tmp_path / "pasv.toml"
    config.write_text('[passive]\naddress = "not-an-ip"\n[server]\nprot = 1\n')
    result = subprocess.run(
        [*PASV, "serve", "--config", str(config), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{config}: passive.address:" in result.stderr
    assert f"{config}: server.prot: unknown setting" in result.stderr
    assert not (tmp_path / "d").exists()  # nothing was created


def _login_and_transfer(port: int, user: str, password: str, name: str) -> bytes:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login(user, password)
        payload = name.encode() * 1000
        ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
        out = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", out.write)
        return out.getvalue()


def test_workers_share_the_port_and_a_dead_worker_is_replaced(tmp_path: Path, stop: list) -> None:
    port = _free_port()
    proc = _serve(tmp_path / "data", port, "--workers", "2")
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    lines += _read_until(proc, r"listening on")  # the second worker
    pids = {int(m.group(1)) for line in lines if (m := re.search(r"pid (\d+)", line))}
    assert len(pids) == 2
    for index in range(6):  # sessions land on either worker; all of them work
        assert _login_and_transfer(port, user, password, f"f{index}") == f"f{index}".encode() * 1000
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    replacement = _read_until(proc, r"listening on")
    new_pid = int(re.search(r"pid (\d+)", replacement[-1]).group(1))  # type: ignore[union-attr]
    assert new_pid not in pids
    for index in range(6):
        assert _login_and_transfer(port, user, password, f"g{index}") == f"g{index}".encode() * 1000


def test_a_second_server_on_a_taken_port_refuses_to_start(tmp_path: Path, stop: list) -> None:
    """Every worker's socket has SO_REUSEPORT; a second `pasv serve` of the same user must not
    join the first one's group (the kernel would split the clients between the two)."""
    port = _free_port()
    first = _serve(tmp_path / "one", port, "--workers", "2")
    stop.append(first)
    _read_until(first, r"listening on")
    _read_until(first, r"listening on")  # both workers hold their socket
    second = _serve(tmp_path / "two", port, "--workers", "2")
    stop.append(second)
    out, _ = second.communicate(timeout=60)
    assert second.returncode == 1
    assert f"port {port} is already in use by another server" in out
    assert first.poll() is None


def _listen_queues(port: int) -> list[int]:
    """The accept-queue lengths (ss's Send-Q of a listening socket) of the sockets on ``port``."""
    out = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return [int(line.split()[2]) for line in out.splitlines()]


def test_every_worker_listens_with_the_configured_backlog(tmp_path: Path, stop: list) -> None:
    """The event loop listens again on the sockets it is given: without the backlog it used its
    own 100, and a burst of clients above that was dropped."""
    port, implicit = _free_port(), _free_port()
    env = {**os.environ, "PASV_SERVER_BACKLOG": "512"}
    proc = _serve(
        tmp_path / "data", port, "--workers", "2", "--implicit-port", str(implicit), env=env
    )
    stop.append(proc)
    _read_until(proc, r"listening on")
    _read_until(proc, r"listening on")
    assert _listen_queues(port) == [512, 512]
    assert _listen_queues(implicit) == [512, 512]
