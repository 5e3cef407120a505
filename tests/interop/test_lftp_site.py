"""lftp's `chmod` (SITE CHMOD) and `site` (SITE UTIME, SITE HELP) against pasv, and the same
commands refused where the authorization rules deny them."""

from __future__ import annotations

import calendar
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject
from tests.interop.helpers import require
from tests.interop.test_lftp import SETTINGS, lftp
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

STAMP = "20231105093000"
WHEN = calendar.timegm(time.strptime(STAMP, "%Y%m%d%H%M%S"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_lftp_chmod_and_both_utime_forms(live: LiveServer, tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (live.files / name).write_bytes(b"x")
        os.chmod(live.files / name, 0o600)
    output = lftp(
        live,
        f"chmod 644 a.txt; site UTIME {STAMP} a.txt; "
        f"site UTIME b.txt 20000101000000 {STAMP} 20000101000000 UTC; site HELP",
        cwd=tmp_path,
    )
    assert _mode(live.files / "a.txt") == 0o644
    assert _mode(live.files / "b.txt") == 0o600
    assert os.stat(live.files / "a.txt").st_mtime == WHEN
    assert os.stat(live.files / "b.txt").st_mtime == WHEN
    assert "SITE UTIME <YYYYMMDDhhmmss> <path>" in output  # lftp prints SITE HELP's lines


def _lftp_output(live: LiveServer, commands: str, cwd: Path, *, fails: bool) -> str:
    """lftp's output; ``chmod`` fails (exit status 1), ``site`` prints the reply and exits 0."""
    done = subprocess.run(
        [
            require("lftp"),
            "-e",
            f"{SETTINGS}; {commands}; bye",
            "-u",
            f"{USER},{PASSWORD}",
            f"ftp://{live.host}:{live.port}",
        ],
        cwd=cwd,
        capture_output=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert (done.returncode != 0) is fails
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def test_lftp_is_refused_where_the_rules_deny(live: LiveServer, tmp_path: Path) -> None:
    path = live.files / "f.txt"
    path.write_bytes(b"x")
    os.chmod(path, 0o600)
    before = os.stat(path).st_mtime
    rule = Rule(Action.DENY, (Subject.parse(USER),), "/", Perm.parse("SITE_CHMOD SITE_UTIME"))
    live.policy.add_rule(rule)
    live.reload_policy()
    output = _lftp_output(live, "chmod 644 f.txt", tmp_path, fails=True)
    assert "SITE_CHMOD is not allowed for you at /f.txt" in output
    output = _lftp_output(live, f"site UTIME {STAMP} f.txt", tmp_path, fails=False)
    assert "550 Permission denied: SITE_UTIME is not allowed for you at /f.txt" in output
    assert _mode(path) == 0o600
    assert os.stat(path).st_mtime == before
