"""put of a local file that is rewritten while it is being uploaded: never "verified"."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.scripted import FileServer, Hook, Session

SIZE = 4 * 1024 * 1024


def _stor_rewriting(local: Path) -> Hook:
    """STOR that, after the first 64 KiB have arrived, rewrites ``local`` in place (same size,
    other bytes), then takes the rest and answers 226: the change is made before the client
    can know its upload is complete."""

    def hook(session: Session, arg: str) -> bool:
        session.send("150 Send it.")
        got = b""
        with session.data() as sock:
            while len(got) < 65536 and (chunk := sock.recv(65536)):
                got += chunk
            with local.open("r+b") as f:
                f.write(os.urandom(SIZE))
            got += b"".join(iter(lambda: sock.recv(65536), b""))
        session.server.files[session.path(arg)] = got
        session.send("226 Stored.")
        return True

    return hook


def _xsha256(session: Session, arg: str) -> bool:
    data = session.server.files.get(session.path(arg), b"")
    session.send(f"213 {hashlib.sha256(data).hexdigest()}")
    return True


@pytest.mark.parametrize("feat", [("SIZE",), ("SIZE", "XSHA256")], ids=["size", "sha256"])
def test_a_file_rewritten_during_put_is_an_integrity_error(
    tmp_path: Path, feat: tuple[str, ...]
) -> None:
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(SIZE))
    os.utime(local, (1_700_000_000, 1_700_000_000))  # the rewrite gives it another time
    hooks: dict[str, Hook] = {
        "STOR": _stor_rewriting(local),
        "XSHA256": _xsha256,
    }
    with FileServer({}, feat=feat, hooks=hooks) as server:
        url = f"ftp://u:p@127.0.0.1:{server.port}/f.bin"
        args = ["put", "--no-resume", "--retry-delay", "0", str(local), url]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 6, result.stderr
    assert f"{local} changed while it was being uploaded to /f.bin" in result.stderr
    assert server.count("STOR") == 1  # not retried: another try could meet another change
