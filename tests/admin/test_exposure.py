"""The admin listener off loopback: only over HTTPS, or when plain HTTP is what is meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from pasv.config import ConfigError, load_settings


def _load(tmp_path: Path, admin: str) -> None:
    path = tmp_path / "pasv.toml"
    path.write_text(f"[admin]\n{admin}\n")
    load_settings(path, environ={})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_plain_http_beyond_loopback_does_not_start(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, f'host = "{host}"')
    text = str(refused.value)
    assert "pasv.toml" in text and f"admin.host = {host!r}" in text
    assert "admin.tls = true" in text and "admin.plain_http = true" in text


def test_the_environment_cannot_slip_past_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plain HTTP beyond this machine"):
        load_settings(None, environ={"PASV_ADMIN_HOST": "0.0.0.0"})


@pytest.mark.parametrize(
    "admin",
    [
        'host = "127.0.0.1"',
        'host = "::1"',
        'host = "localhost"',
        'host = "0.0.0.0"\ntls = true',  # HTTPS with the FTP server's certificate
        'host = "0.0.0.0"\nplain_http = true',  # a TLS proxy in front, on a private network
        'host = "0.0.0.0"\nenabled = false',
    ],
)
def test_loopback_https_or_an_explicit_choice_start(tmp_path: Path, admin: str) -> None:
    _load(tmp_path, admin)
