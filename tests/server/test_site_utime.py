"""SITE UTIME in both forms, SITE HELP, a SITE permission per subcommand, and the refusals of a
storage that cannot set times or modes (ftplib against a live server)."""

from __future__ import annotations

import calendar
import ftplib
import os
import time

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject
from pasv.server.handlers.site import utime_arguments
from pasv.storage.memory import MemoryStorage
from tests.support.live import USER, LiveServer

STAMP = "20240229123456"
WHEN = calendar.timegm(time.strptime(STAMP, "%Y%m%d%H%M%S"))


def _refused(ftp: ftplib.FTP, line: str) -> str:
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.sendcmd(line)
    return str(caught.value)


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        (f"{STAMP} a b.txt", ("a b.txt", STAMP)),
        (f"a b.txt {STAMP}", ("a b.txt", STAMP)),
        (f"a b.txt 20200101000000 {STAMP} 20200101000000 UTC", ("a b.txt", STAMP)),
        ("202402291234 f", ("f", "202402291234")),
    ],
)
def test_the_forms_are_told_apart(rest: str, expected: tuple[str, str]) -> None:
    assert utime_arguments(rest) == expected


@pytest.mark.parametrize("line", ["SITE UTIME", "SITE UTIME f.txt", "SITE UTIME 2024 f.txt"])
def test_bad_arguments_are_501_and_change_nothing(live: LiveServer, line: str) -> None:
    path = live.files / "f.txt"
    path.write_bytes(b"x")
    before = os.stat(path).st_mtime
    ftp = live.login()
    assert _refused(ftp, line).startswith("501 Usage: SITE UTIME <YYYYMMDDhhmmss> <path>")
    assert os.stat(path).st_mtime == before


@pytest.mark.parametrize(
    "line",
    [
        f"SITE UTIME {STAMP} with space.txt",
        f"SITE UTIME with space.txt {STAMP}",
        f"SITE UTIME with space.txt 20000101000000 {STAMP} 20000101000000 UTC",
    ],
)
def test_both_forms_set_the_modification_time(live: LiveServer, line: str) -> None:
    path = live.files / "with space.txt"
    path.write_bytes(b"x")
    ftp = live.login()
    reply = ftp.sendcmd(line)
    assert reply == ("200 SITE UTIME: modification time of with space.txt set to 20240229123456.")
    assert os.stat(path).st_mtime == WHEN
    assert ftp.sendcmd("MDTM with space.txt") == f"213 {STAMP}"


def test_a_missing_file_is_550(live: LiveServer) -> None:
    ftp = live.login()
    assert _refused(ftp, f"SITE UTIME {STAMP} nothing.txt").startswith("550 ")


def _rule(action: str, path: str, perms: str) -> Rule:
    return Rule(Action(action), (Subject.parse(USER),), path, Perm.parse(perms))


def test_rules_allow_chmod_but_deny_utime(live: LiveServer) -> None:
    (live.files / "pub").mkdir()
    path = live.files / "pub" / "f.txt"
    path.write_bytes(b"x")
    os.chmod(path, 0o600)
    before = os.stat(path).st_mtime
    live.policy.add_rule(_rule("deny", "/pub", "SITE-UTIME"))
    live.reload_policy()
    ftp = live.login()
    assert ftp.sendcmd("SITE CHMOD 644 pub/f.txt") == "200 SITE CHMOD 644 f.txt done."
    assert _refused(ftp, f"SITE UTIME {STAMP} pub/f.txt") == (
        "550 Permission denied: SITE_UTIME is not allowed for you at /pub/f.txt."
    )
    assert os.stat(path).st_mtime == before
    assert ftp.sendcmd("MFMT 20200101000000 pub/f.txt").startswith("213 ")  # MFMT is its own


def test_rules_deny_chmod_but_allow_utime(live: LiveServer) -> None:
    path = live.files / "f.txt"
    path.write_bytes(b"x")
    os.chmod(path, 0o600)
    live.policy.add_rule(_rule("deny", "/", "SITE_CHMOD"))
    live.reload_policy()
    ftp = live.login()
    assert _refused(ftp, "SITE CHMOD 644 f.txt") == (
        "550 Permission denied: SITE_CHMOD is not allowed for you at /f.txt."
    )
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ftp.sendcmd(f"SITE UTIME {STAMP} f.txt").startswith("200 ")
    assert os.stat(path).st_mtime == WHEN


def test_a_rule_on_site_covers_every_subcommand(live: LiveServer) -> None:
    (live.files / "f.txt").write_bytes(b"x")
    live.policy.add_rule(_rule("deny", "/", "SITE"))
    live.reload_policy()
    ftp = live.login()
    assert _refused(ftp, "SITE CHMOD 644 f.txt").startswith("550 Permission denied: SITE_CHMOD")
    assert _refused(ftp, f"SITE UTIME {STAMP} f.txt").startswith(
        "550 Permission denied: SITE_UTIME"
    )
    assert ftp.sendcmd("SITE QUOTA").startswith("200 ")  # reading your own numbers stays


def test_site_help_lists_every_subcommand(live: LiveServer) -> None:
    ftp = live.login()
    reply = ftp.sendcmd("SITE HELP")
    lines = reply.splitlines()
    assert lines[0] == "214-SITE commands:" and lines[-1] == "214 End"
    verbs = [line.split()[1] for line in lines[1:-1]]
    assert verbs == ["HELP", "CHMOD", "UTIME", "QUOTA", "RATIO", "PASVINFO", "WARNINGS"]
    assert "not available" not in reply


def test_a_storage_without_modes_or_times_refuses_with_the_reason(live: LiveServer) -> None:
    class Fixed(MemoryStorage):  # a real in-memory tree that, like S3, keeps neither
        capabilities = MemoryStorage.capabilities.__class__(
            sendfile=False, chmod=False, set_mtime=False
        )

    storage = Fixed()
    live.call(storage.mkdir("/d"))
    live.server._storages[("", "")] = storage  # alice's home (the files root) is this storage
    ftp = live.login()
    assert _refused(ftp, "SITE CHMOD 644 d") == (
        "502 SITE CHMOD is not available here: this storage keeps no permission bits."
    )
    assert _refused(ftp, f"SITE UTIME {STAMP} d") == (
        "502 SITE UTIME is not available here: this storage cannot set modification times."
    )
    assert _refused(ftp, f"MFMT {STAMP} d") == (
        "502 MFMT is not available here: this storage cannot set modification times."
    )
    help_lines = ftp.sendcmd("SITE HELP").splitlines()
    marked = [line for line in help_lines if line.endswith("[not available on this storage]")]
    assert [line.split()[1] for line in marked] == ["CHMOD", "UTIME"]
