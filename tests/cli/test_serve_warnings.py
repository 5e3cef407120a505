"""`pasv serve` warns its operator once (on the terminal and in the log) about a risky setup,
and `pasv doctor` run against it reports the same warnings (SITE WARNINGS)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.cli import support
from tests.cli.support import PASV, Pasv, _free_port, _read_until, _serve
from tests.support.ftps import make_pki

stop = support.stop


def _start(data: Path, *extra: str) -> tuple[subprocess.Popen[str], int, list[str]]:
    port = _free_port()
    proc = _serve(data, port, "--workers", "2", *extra)
    lines = _read_until(proc, r"listening on")
    lines += _read_until(proc, r"listening on")  # both workers: still warned only once
    return proc, port, lines


def _admin(data: Path) -> Pasv:
    """The store with an administrator (a member of the console group, admin.console_group's
    default) and an ordinary user, made before the server starts."""
    pasv = Pasv(data).init()
    pasv.ok("user", "add", "ops", "--password", "ops-pw")
    pasv.ok("user", "add", "carol", "--password", "carol-pw")
    pasv.ok("group", "add", "admin")
    pasv.ok("user", "set", "ops", "groups=admin")
    return pasv


def _doctor(port: int, user: str = "ops:ops-pw") -> dict[str, object]:
    result = subprocess.run(
        [*PASV, "doctor", f"ftp://{user}@127.0.0.1:{port}/", "--json", "--lang", "en",
         "--timeout", "5", "--netrc-file", "/nonexistent"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    report = json.loads(result.stdout)
    (setup,) = [s for s in report["stages"] if s["stage"] == "setup"]
    return dict(setup)


def test_a_risky_setup_is_warned_about_once_and_doctor_reports_the_same(
    tmp_path: Path, stop: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "data"
    _admin(data).ok("rule", "add", "allow", "--path", "/incoming", "--perms", "STOR", "--to", "?")
    as_root = os.geteuid() == 0
    proc, port, lines = _start(data, "--anonymous", *(["--allow-root"] if as_root else []))
    stop.append(proc)
    warned = [line.removeprefix("Warning: ") for line in lines if line.startswith("Warning: ")]
    logged = [line.split("WARNING pasv.server: ", 1)[1] for line in lines if "WARNING pasv" in line]
    assert warned == logged  # each once on the terminal and once in the log
    expected = ["anonymous write is on", *(["serves clients as root"] if as_root else [])]
    expected.append("the self-signed TLS certificate is in use")
    assert len(warned) == len(expected)
    assert all(want in line for want, line in zip(expected, warned, strict=True)), warned
    setup = _doctor(port)
    assert setup["status"] == "warn"
    assert [d.split(": ", 1)[1] for d in setup["details"]] == warned  # type: ignore[attr-defined]
    for user in ("carol:carol-pw", "anonymous:guest@example.org"):  # not administrators
        setup = _doctor(port, user)
        assert setup["status"] == "skip"
        assert str(setup["summary"]).startswith(
            "The server tells its setup warnings to its administrators only (SITE WARNINGS: "
            "Permission denied: "
        )


def test_a_careful_setup_gets_no_warning(tmp_path: Path, stop: list[subprocess.Popen[str]]) -> None:
    pki = make_pki(tmp_path / "pki")
    _admin(tmp_path / "data")
    proc, port, lines = _start(tmp_path / "data", "--certificate", str(pki.chain_file))
    stop.append(proc)  # loopback only, a real certificate, no anonymous; as root it switches
    assert not [line for line in lines if "Warning" in line or "WARNING" in line], lines
    setup = _doctor(port)
    assert (setup["status"], setup["data"]) == ("ok", {"warnings": {}})
