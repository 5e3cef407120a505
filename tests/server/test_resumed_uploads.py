"""REST n + STOR: the file ends at n plus the bytes that came, in every upload mode."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer, start_server


@pytest.fixture(params=["standard", "atomic", "atomic-resume"])
def any_mode(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", uploads={"mode": request.param})
    yield live
    live.stop()


def test_a_resumed_stor_ends_the_file_after_the_new_bytes(any_mode: LiveServer) -> None:
    target = any_mode.files / "digits.txt"
    target.write_bytes(b"0123456789")
    ftp = any_mode.login()
    ftp.voidcmd("TYPE I")
    reply = ftp.storbinary("STOR digits.txt", io.BytesIO(b"XY"), rest=5)
    assert reply.startswith("226"), reply
    assert target.read_bytes() == b"01234XY"  # not 01234XY789
    ftp.quit()
