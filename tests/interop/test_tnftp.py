"""tnftp (Debian's ``ftp``, the BSD command-line client) against pasv: ``mget`` and ``mdelete``
with a pattern send NLST with it, and fetch or delete each name the server gives back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import require, sha256_file, write_random
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop


def tnftp(live: LiveServer, commands: list[str], cwd: Path) -> str:
    """Run tnftp with ``commands`` on its standard input (no prompts, passive); its output."""
    binary = require("tnftp")
    script = "\n".join([f"user {USER} {PASSWORD}", "binary", *commands, "bye"]) + "\n"
    done = subprocess.run(
        [binary, "-n", "-i", "-p", "-v", live.host, str(live.port)],
        input=script,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_mget_and_mdelete_with_a_pattern(live: LiveServer, tmp_path: Path) -> None:
    reports = live.files / "reports"
    sent = {
        name: write_random(reports / name, size, seed=size)
        for name, size in (("2026-01.csv", 70_001), ("2026-02.csv", 0), ("notes.txt", 9))
    }
    for name in ("old-1.log", "old-2.log", "keep.log"):
        (live.files / name).write_bytes(b"log")
    here = tmp_path / "here"
    here.mkdir()
    out = tnftp(live, ["cd reports", "mget *.csv", "cd /", "mdelete old-*.log"], here)
    assert sorted(p.name for p in here.iterdir()) == ["2026-01.csv", "2026-02.csv"], out
    for path in here.iterdir():
        assert sha256_file(path) == sent[path.name]
    assert sorted(p.name for p in live.files.glob("*.log")) == ["keep.log"], out
    # a pattern with a directory: the names come back with it, and mget fetches each
    there = tmp_path / "there"
    (there / "reports").mkdir(parents=True)
    out = tnftp(live, ["mget reports/*.txt"], there)
    assert [p.name for p in (there / "reports").iterdir()] == ["notes.txt"], out
