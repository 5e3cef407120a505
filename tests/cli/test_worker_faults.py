"""`pasv serve --workers 2` with a worker killed in the middle of a download: the sessions on
the other worker go on (their transfers complete), and the killed worker is replaced."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.cli.support import _free_port, _read_until, _serve, stop  # noqa: F401 - fixture
from tests.server.helpers import read_until_closed


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _server_inode(client_port: int, server_port: int) -> int:
    """The inode of the server's end of a loopback connection (from /proc/net/tcp)."""
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            return int(fields[9])
    raise AssertionError(f"no server socket for client port {client_port}")


def _worker_of(ftp: ftplib.FTP, port: int, pids: set[int]) -> int:
    inode = _server_inode(ftp.sock.getsockname()[1], port)
    owners = [pid for pid in pids if inode in _socket_inodes(pid)]
    assert len(owners) == 1, owners
    return owners[0]


def test_worker_killed_mid_transfer_is_replaced_and_others_go_on(
    tmp_path: Path,
    stop: list,  # noqa: F811 - the fixture
) -> None:
    port = _free_port()
    data = tmp_path / "data"
    proc = _serve(data, port, "--workers", "2")
    stop.append(proc)
    lines = _read_until(proc, r"listening on") + _read_until(proc, r"listening on")
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    pids = {int(m.group(1)) for line in lines if (m := re.search(r"pid (\d+)", line))}
    assert len(pids) == 2
    payload = os.urandom(256 * 1024)
    (data / "files" / "big.bin").write_bytes(payload * 64)  # 16 MiB
    sessions: dict[int, list[ftplib.FTP]] = {pid: [] for pid in pids}
    try:
        _kill_one_mid_transfer(proc, port, (user, password), pids, sessions, payload)
    finally:
        for ftp in (*sessions[min(pids)], *sessions[max(pids)]):
            ftp.close()


def _kill_one_mid_transfer(
    proc: subprocess.Popen[str],
    port: int,
    login: tuple[str, str],
    pids: set[int],
    sessions: dict[int, list[ftplib.FTP]],
    payload: bytes,
) -> None:
    user, password = login
    digest = hashlib.sha256(payload * 64).hexdigest()
    for _ in range(40):  # until each worker has a session (the kernel spreads them)
        ftp = ftplib.FTP(timeout=10)
        ftp.connect("127.0.0.1", port)
        ftp.login(user, password)
        sessions[_worker_of(ftp, port, pids)].append(ftp)
        if all(sessions.values()):
            break
    assert all(sessions.values()), "every session landed on one worker"
    victim, survivor = sorted(pids, key=lambda pid: len(sessions[pid]))
    doomed, kept = sessions[victim][0], sessions[survivor][0]

    doomed.voidcmd("TYPE I")
    doomed_conn = doomed.transfercmd("RETR big.bin")
    kept.voidcmd("TYPE I")
    kept_conn = kept.transfercmd("RETR big.bin")
    assert doomed_conn.recv(65536)  # both downloads are under way
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    replacement = _read_until(proc, r"listening on")
    recovered = time.monotonic() - killed_at
    new_pid = int(re.search(r"pid (\d+)", replacement[-1]).group(1))  # type: ignore[union-attr]
    assert new_pid not in pids

    read_until_closed(doomed_conn, 10)  # cut short by the kill
    doomed_conn.close()
    received = read_until_closed(kept_conn, 30)
    kept_conn.close()
    assert hashlib.sha256(received).hexdigest() == digest  # the survivor's download is whole
    assert kept.voidresp().startswith("226")
    for ftp in (*sessions[survivor], kept):
        assert ftp.voidcmd("NOOP").startswith("200")
    for index in range(8):  # new sessions work, on either worker
        ftp = ftplib.FTP(timeout=10)
        ftp.connect("127.0.0.1", port)
        ftp.login(user, password)
        ftp.storbinary(f"STOR after{index}", io.BytesIO(payload))
        out = io.BytesIO()
        ftp.retrbinary(f"RETR after{index}", out.write)
        assert out.getvalue() == payload
        ftp.quit()
    print(f"worker replaced {recovered * 1000:.0f} ms after SIGKILL")
