"""`pasv pcap` on the command line: transcript, credential warning, table, --extract, --json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from typer.testing import CliRunner

from pasv.cli.main import app
from tests.diagnostics.scenarios import DOWNLOAD, payload
from tests.support.live import PASSWORD, USER

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()


def test_transcript_warning_and_table(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pcap", str(FIXTURES / "epsv.pcap"), "--extract", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"USER {USER}" in result.output and f"PASS {PASSWORD}" in result.output
    assert "sent the credentials in clear" in result.output
    assert "229 Entering Extended Passive Mode" in result.output
    assert "Transfers" in result.output and "complete" in result.output
    assert (tmp_path / "down.bin").read_bytes() == payload(*DOWNLOAD)
    assert len(list((tmp_path / "listings").iterdir())) == 1
    sums = (tmp_path / "SHA256SUMS").read_text().splitlines()
    assert f"{hashlib.sha256(payload(*DOWNLOAD)).hexdigest()}  down.bin" in sums
    assert len(sums) == 3


def test_json(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["pcap", str(FIXTURES / "ipv6.pcapng"), "--json", "--extract", str(tmp_path)]
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    [session] = data["sessions"]
    assert session["user"] == USER and session["passwords"] == [PASSWORD]
    assert session["server"].startswith("::1 port ")
    [down] = [f for f in data["files"] if f["path"] == "/down.bin"]
    assert down["complete"] and down["sha256"] == hashlib.sha256(payload(*DOWNLOAD)).hexdigest()
    assert Path(down["written"]) == tmp_path / "down.bin"


def test_a_file_that_is_no_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "x.pcap"
    bogus.write_bytes(b"not a capture at all")
    result = runner.invoke(app, ["pcap", str(bogus)])
    assert result.exit_code == 1
    assert "not a pcap or pcapng file" in result.output
