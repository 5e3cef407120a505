"""The TOML blocks of README.md and docs/*.md load: settings through the config loader, policy
files through `pasv policy import`, so a renamed or removed setting breaks this test."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
POLICY_TABLES = {"settings", "groups", "users", "rules", "ip", "messages"}


def _blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in re.finditer(r"```toml\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = _blocks()


def test_the_docs_have_toml_blocks() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize(("where", "body"), BLOCKS, ids=[where for where, _ in BLOCKS])
def test_toml_block_loads(where: str, body: str, tmp_path: Path) -> None:
    doc = tomllib.loads(body)
    file = tmp_path / "example.toml"
    file.write_text(body, encoding="utf-8")
    if set(doc) <= POLICY_TABLES:
        data = ["--data-dir", str(tmp_path / "data")]
        for user in doc.get("users", {}):
            runner = CliRunner().invoke(app, ["user", "add", user, "--password", "x", *data])
            assert runner.exit_code == 0, runner.output
        result = CliRunner().invoke(app, ["policy", "import", str(file), *data])
        assert result.exit_code == 0, f"{where}: {result.output}"
        return
    try:
        load_settings(file, environ={})
    except ConfigError as exc:
        # An example may name a file of the reader's (a CA, a certificate): only that may fail.
        problems = [line for line in str(exc).splitlines() if not line.endswith("no such file")]
        assert not problems, f"{where}: {exc}"
