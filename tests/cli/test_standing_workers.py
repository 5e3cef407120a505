"""An operator's change reaches sessions already logged in, on every worker of `pasv serve
--workers 2`: a disabled or deleted account, a new password or home, a ban end them with 421
and the reason; a deny rule or fewer permissions refuse their next command (server/standing)."""

from __future__ import annotations

import ftplib
import io
import re
import subprocess
from pathlib import Path

import pytest
from tests.cli import support
from tests.cli.support import Pasv
from tests.cli.test_policy_workers import _connect, _pid, _poll, _start

stop = support.stop

USER, PASSWORD = "alice", "pw-alice"


@pytest.fixture
def pasv(tmp_path: Path) -> Pasv:
    admin = Pasv(tmp_path / "data")
    admin.ok("user", "add", USER, "--password", PASSWORD)
    files = admin.data / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "f.txt").write_text("hello\n")
    return admin


def _one_per_worker(port: int, workers: set[int]) -> list[ftplib.FTP]:
    """A logged-in session on each worker (connections land where the kernel puts them)."""
    found: dict[int, ftplib.FTP] = {}
    spare: list[ftplib.FTP] = []
    for _ in range(60):
        ftp = _connect(port)
        ftp.login(USER, PASSWORD)
        pid = _pid(ftp)
        if pid in found:
            spare.append(ftp)
        else:
            found[pid] = ftp
        if set(found) == workers:
            break
    for ftp in spare:
        ftp.close()
    assert set(found) == workers, "no session reached every worker"
    return list(found.values())


def _ended(ftp: ftplib.FTP, replies: list[str]) -> bool:
    """NOOP until the server ends the session; its last reply is kept in ``replies``."""
    try:
        ftp.voidcmd("NOOP")
    except ftplib.error_temp as exc:
        replies.append(str(exc))
        return True
    return False


def _retr(ftp: ftplib.FTP) -> str:
    try:
        ftp.retrbinary("RETR f.txt", io.BytesIO().write)
    except ftplib.error_perm as exc:
        return str(exc)
    return "226"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("user", "set", USER, "enabled=false"),
            f"421 Your account {USER} was disabled by the administrator; this session is closed.",
        ),
        (
            ("user", "del", USER),
            f"421 Your account {USER} was deleted by the administrator; this session is closed.",
        ),
        (
            ("user", "passwd", USER, "--password", "new-secret"),
            f"421 The password of {USER} was changed; log in again with the new password.",
        ),
        (
            ("user", "set", USER, "home=elsewhere"),
            f"421 The home directory of {USER} was changed; log in again to work in the new one.",
        ),
        (
            ("ban", "add", "127.0.0.1", "--reason", "Contract ended"),
            "421 Contract ended; banned for 60 minutes.",
        ),
    ],
    ids=["disabled", "deleted", "password", "home", "banned"],
)
def test_a_change_ends_the_logged_in_sessions_on_every_worker(
    pasv: Pasv, stop: list[subprocess.Popen[str]], change: tuple[str, ...], expected: str
) -> None:
    pasv.ok("policy", "set", "ban_allowlist=")
    port, workers = _start(pasv, stop, 2)
    sessions = _one_per_worker(port, workers)
    pasv.ok(*change)
    for ftp in sessions:  # each worker, idle since, ends its own session
        replies: list[str] = []
        _poll(lambda ftp=ftp, replies=replies: _ended(ftp, replies), "the session is ended")  # type: ignore[misc]
        assert replies[-1] == expected
        ftp.close()


@pytest.mark.parametrize(
    "change",
    [
        ("rule", "add", "deny", "--path", "/", "--perms", "RETR", "--to", USER),
        ("user", "set", USER, "perms=LIST"),
    ],
    ids=["deny-rule", "perms"],
)
def test_a_narrower_right_refuses_the_next_command_on_every_worker(
    pasv: Pasv, stop: list[subprocess.Popen[str]], change: tuple[str, ...]
) -> None:
    port, workers = _start(pasv, stop, 2)
    sessions = _one_per_worker(port, workers)
    for ftp in sessions:
        assert _retr(ftp) == "226"
    pasv.ok(*change)
    refused = "550 Permission denied: RETR is not allowed for you at /f.txt."
    for ftp in sessions:  # the session goes on; the download is refused with the reason
        _poll(lambda ftp=ftp: _retr(ftp) == refused, "RETR is refused")  # type: ignore[misc]
        assert ftp.voidcmd("NOOP").startswith("200")
        ftp.close()


def test_a_group_taken_away_takes_its_rights_from_open_sessions(
    pasv: Pasv, stop: list[subprocess.Popen[str]]
) -> None:
    pasv.ok("group", "add", "partners")
    pasv.ok("user", "set", USER, "groups=partners", "perms=LIST")  # RETR only through it
    pasv.ok("rule", "add", "allow", "--path", "/f.txt", "--perms", "RETR", "--to", "@partners")
    port, workers = _start(pasv, stop, 2)
    sessions = _one_per_worker(port, workers)
    for ftp in sessions:
        assert _retr(ftp) == "226"
    pasv.ok("group", "del", "partners")
    for ftp in sessions:
        _poll(
            lambda ftp=ftp: re.match(r"550 Permission denied", _retr(ftp)) is not None,  # type: ignore[misc]
            "RETR is refused",
        )
        ftp.close()


def test_a_download_running_when_the_account_is_disabled_is_stopped(
    pasv: Pasv, stop: list[subprocess.Popen[str]]
) -> None:
    size = 4 << 20
    (pasv.data / "files" / "big").write_bytes(b"x" * size)
    pasv.ok("user", "set", USER, "download_rate=65536")  # a minute for the whole file
    port, _ = _start(pasv, stop, 2)
    ftp = _connect(port)
    ftp.login(USER, PASSWORD)
    data = ftp.transfercmd("RETR big")
    received = len(data.recv(1024))
    assert received
    pasv.ok("user", "set", USER, "enabled=false")
    while chunk := data.recv(65536):  # the server closes the data connection
        received += len(chunk)
    data.close()
    assert received < size
    assert ftp.getline() == (
        f"421 Your account {USER} was disabled by the administrator; this session is closed."
    )
    ftp.close()


def test_a_lowered_quota_refuses_the_next_upload_on_every_worker(
    pasv: Pasv, stop: list[subprocess.Popen[str]]
) -> None:
    port, workers = _start(pasv, stop, 2)
    sessions = _one_per_worker(port, workers)
    for number, ftp in enumerate(sessions):
        ftp.storbinary(f"STOR a{number}", io.BytesIO(b"x" * 1000))
    pasv.ok("user", "set", USER, "quota_bytes=1500")

    def refused(ftp: ftplib.FTP) -> bool:
        try:
            ftp.storbinary("STOR b", io.BytesIO(b"x" * 1000))
        except ftplib.error_perm as exc:
            assert str(exc) == "552 Exceeded storage allocation."
            return True
        ftp.delete("b")  # not yet refused: the next try starts from the same usage
        return False

    for ftp in sessions:
        _poll(lambda ftp=ftp: refused(ftp), "STOR is refused")  # type: ignore[misc]
        ftp.close()
