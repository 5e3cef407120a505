"""contrib/pasv.service: hardened as documented, and valid for systemd (systemd-analyze verify)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "pasv.service"
INSTALLED = "/opt/pasv/.venv/bin/pasv"


def _settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_asks_for_least_privilege() -> None:
    unit = _settings()
    assert unit["User"] == ["pasv"] and unit["Group"] == ["pasv"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ProtectHome"] == ["yes"]
    assert unit["PrivateTmp"] == ["yes"]
    assert unit["ReadWritePaths"] == ["/var/lib/pasv"]
    assert unit["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert unit["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    assert unit["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert unit["ExecStart"] == [f"{INSTALLED} serve --config /etc/pasv/pasv.toml"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this checkout's pasv instead of /opt/pasv
    here = Path(sys.executable).parent / "pasv"
    assert here.exists()
    unit = tmp_path / "pasv.service"
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(here)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # unknown or misspelt settings are only warned of
