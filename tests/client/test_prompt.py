"""The password prompt on a pty: input hidden, the password works; with no terminal, exit 2."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.client.peers import Peer

WAIT = 20.0


def _clean_env(home: Path) -> dict[str, str]:
    """No PASV_PASSWORD, and a HOME without .netrc: the prompt is the only source left."""
    env = {k: v for k, v in os.environ.items() if k != "PASV_PASSWORD"}
    env["HOME"] = str(home)
    return env


def _read_until(fd: int, needle: bytes, seen: bytearray) -> bool:
    """Read the pty into ``seen`` until ``needle`` shows up or the process side closes."""
    deadline = time.monotonic() + WAIT
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return needle in seen
        if not chunk:
            return needle in seen
        seen.extend(chunk)
    return needle in seen


def test_prompt_hides_the_password_and_logs_in(pasv: Peer, tmp_path: Path) -> None:
    pasv.put("visible.txt", b"x")
    url = f"ftp://{pasv.user}@{pasv.host}:{pasv.port}/"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pasv", "ls", url, "--retries", "0"],
        stdin=slave, stdout=slave, stderr=slave, env=_clean_env(tmp_path), close_fds=True,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    try:
        # click writes the prompt, then getpass turns echo off (flushing typed-ahead input)
        # and writes the last space: only then is it safe to type.
        prompt = f"Password for {pasv.user}@{pasv.host}: ".encode()
        assert _read_until(master, prompt, seen), seen.decode(errors="replace")
        os.write(master, pasv.password.encode() + b"\n")
        _read_until(master, b"visible.txt", seen)
        assert proc.wait(WAIT) == 0, seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = seen.decode(errors="replace")
    assert f"Password for {pasv.user}@{pasv.host}" in text
    assert "visible.txt" in text  # the password worked
    assert pasv.password not in text  # and the terminal never showed it


def test_without_a_terminal_there_is_no_prompt_and_exit_2(pasv: Peer, tmp_path: Path) -> None:
    url = f"ftp://{pasv.user}@{pasv.host}:{pasv.port}/"
    done = subprocess.run(
        [sys.executable, "-m", "pasv", "ls", url, "--retries", "0"],
        stdin=subprocess.DEVNULL, capture_output=True, env=_clean_env(tmp_path), timeout=WAIT,
        text=True,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"no password for {pasv.user}@{pasv.host}" in done.stderr
    assert "~/.netrc or PASV_PASSWORD" in done.stderr
    assert "Password for" not in done.stdout + done.stderr
