"""lftp against pasv: mirror a 200-file UTF-8 tree up and back down, and a 4-way segmented pget."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.interop.helpers import require, sha256_file, tree_digests, write_random
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SETTINGS = (
    "set ftp:passive-mode on; set net:max-retries 1; set net:timeout 10; "
    "set net:reconnect-interval-base 1; set cmd:fail-exit yes; "
    "set ssl:verify-certificate no; set ftp:ssl-allow no; "
    "set ftp:charset utf-8; set file:charset utf-8"
)

DIRS = [
    "",
    "文档",
    "文档/报告 2024",
    "Résumé files",
    "Résumé files/élève",
    "-leading dash dir",
    "a/b/c/d",
    "mixed 混合/ñandú",
]
STEMS = ["文件", "café", "naïve résumé", "-dash", "with space", "plain", "日本語テキスト", "Ærø"]


def build_tree(root: Path, count: int = 200) -> dict[str, str]:
    """count files spread over nested dirs, with Chinese, accented, spaced and dash-led names."""
    expected = {}
    for index in range(count):
        directory = DIRS[index % len(DIRS)]
        stem = STEMS[(index // len(DIRS)) % len(STEMS)]
        name = f"{stem} {index:03d}.dat" if index % 3 else f"{stem}{index:03d}.txt"
        relative = f"{directory}/{name}" if directory else name
        size = 0 if index == 7 else (index * 997) % 40_000
        expected[relative] = write_random(root / relative, size, seed=index)
    return expected


def lftp(live: LiveServer, commands: str, cwd: Path, timeout: float = 60) -> str:
    """Run lftp non-interactively against the live server; return its output."""
    binary = require("lftp")
    script = f"{SETTINGS}; {commands}; bye"
    done = subprocess.run(
        [binary, "-e", script, "-u", f"{USER},{PASSWORD}", f"ftp://{live.host}:{live.port}"],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, f"lftp exited {done.returncode}:\n{output}"
    return output


def test_lftp_mirror_up_and_down(live: LiveServer, tmp_path: Path) -> None:
    source = tmp_path / "source"
    expected = build_tree(source)
    assert len(expected) == 200

    lftp(live, "mirror -R --parallel=4 source /up", cwd=tmp_path)
    assert tree_digests(live.files / "up") == expected

    lftp(live, "mirror --parallel=4 /up fresh", cwd=tmp_path)
    fresh = tree_digests(tmp_path / "fresh")
    assert set(fresh) == set(expected)
    assert fresh == expected


def session_commands(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(session id, command) for every command the server logged, in order."""
    found = []
    for record in caplog.records:
        message = record.getMessage()
        if record.name == "pasv.session" and " Command: " in message:
            head, command = message.split(" Command: ", 1)
            found.append((head.split("]", 1)[0].lstrip("["), command))
    return found


def test_lftp_pget_segmented(
    live: LiveServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    size = 20 * 1024 * 1024 + 4321
    source = write_random(live.files / "large.bin", size, seed=20)
    # Unthrottled, loopback moves 20 MB on the first connection before lftp has logged in the
    # other three; a per-connection rate limit makes the download last long enough to split.
    lftp(live, "set net:limit-rate 2M; pget -n 4 /large.bin -o got.bin", cwd=tmp_path)
    got = tmp_path / "got.bin"
    assert got.stat().st_size == size
    assert sha256_file(got) == source

    commands = session_commands(caplog)
    retr_sessions = {session for session, command in commands if command.startswith("RETR ")}
    rests = [int(command.split()[1]) for _, command in commands if command.startswith("REST ")]
    assert len(retr_sessions) == 4, commands  # four segments, each on its own connection
    offsets = sorted(offset for offset in rests if offset > 0)
    assert len(offsets) == 3, commands
    assert len(set(offsets)) == 3
    assert offsets[-1] < size
