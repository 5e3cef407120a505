"""Exit code 6: the server's HASH of the file does not match what was transferred."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.client.fakes import HashLiar, in_thread
from tests.client.peers import Peer

runner = CliRunner()


def test_a_hash_mismatch_after_get_and_put_exits_6(pasv: Peer, tmp_path: Path) -> None:
    data = os.urandom(50_000)
    pasv.put("f.bin", data)
    with in_thread(HashLiar((pasv.host, pasv.port))) as liar:
        url = f"ftp://{pasv.user}:{pasv.password}@127.0.0.1:{liar.port}"
        got = tmp_path / "f.bin"
        result = runner.invoke(app, ["get", f"{url}/f.bin", str(got), "--retries", "0"])
        assert result.exit_code == 6, result.stderr
        assert "sha256 differs between server and" in result.stderr
        assert got.read_bytes() == data  # the bytes came; the server's hash disagrees

        result = runner.invoke(app, ["put", str(got), f"{url}/up.bin", "--retries", "0"])
        assert result.exit_code == 6, result.stderr
        assert "/up.bin: sha256 differs" in result.stderr
    # Straight to the server, the same file verifies.
    result = runner.invoke(app, ["get", pasv.url("/f.bin"), str(got), "--no-resume"])
    assert (result.exit_code, "verified by sha256" in result.stderr) == (0, True), result.stderr
