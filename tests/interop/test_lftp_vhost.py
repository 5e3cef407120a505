"""lftp sends HOST with the URL's host (RFC 7151): a name picks pasv's virtual host, an address
the server's own site."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.helpers import require
from tests.interop.test_lftp import SETTINGS
from tests.support.live import LiveServer, start_server

pytestmark = pytest.mark.interop
PASSWORD = "lftp-vhost-pw"


def _lftp(url_host: str, port: int, user: str, commands: str, cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [require("lftp"), "-e", f"{SETTINGS}; {commands}; bye", "-u", f"{user},{PASSWORD}",
         f"ftp://{url_host}:{port}"],
        cwd=cwd, capture_output=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(
        tmp_path / "data",
        hosts=[{"name": "localhost", "root": str(tmp_path / "local"), "users": ["ann"]}],
    )
    live.add_user("ann", PASSWORD)
    live.add_user("bob", PASSWORD)
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "site.txt").write_text("local site")
    (live.files / "site.txt").write_text("default site")
    yield live
    live.stop()


def test_lftp_reaches_the_named_host(site: LiveServer, tmp_path: Path) -> None:
    code, output = _lftp("localhost", site.port, "ann", "cat site.txt", tmp_path)
    assert code == 0, output
    assert output.strip() == "local site"
    code, output = _lftp("127.0.0.1", site.port, "bob", "cat site.txt", tmp_path)
    assert code == 0, output
    assert output.strip() == "default site"
    # (a refused login is not tried with lftp: it reconnects and tries again until its timeout)
