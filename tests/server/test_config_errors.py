"""A bad setting is named by where its value came from: the file, a PASV_* variable or a flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from pasv.config import ConfigError, load_settings


def test_each_problem_names_its_own_source(tmp_path: Path) -> None:
    config = tmp_path / "pasv.toml"
    config.write_text('[passive]\naddress = "bogus"\n', encoding="utf-8")
    environ = {"PASV_SERVER_PORT": "not-a-port", "PASV_SERVER_WORKERS": "1"}
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {"timeouts": {"idle": -5}}, environ=environ)
    lines = str(caught.value).splitlines()
    assert f"{config}: passive.address: Input is not a valid IPv4 address" in lines
    assert any(line.startswith("PASV_SERVER_PORT (environment): server.port:") for line in lines)
    assert any(line.startswith("command line: timeouts.idle:") for line in lines)
    assert not any("PASV_SERVER_WORKERS" in line for line in lines)  # a good value is not blamed
