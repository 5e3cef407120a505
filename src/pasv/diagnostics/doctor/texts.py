"""The doctor's words, from data/doctor.toml: stage titles, verdict lines and advice (en, zh)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from pasv.diagnostics.knowledge import Advice, Lang

__all__ = ["advice", "say", "stage_title"]


@cache
def _texts() -> dict[str, Any]:
    data = resources.files("pasv.diagnostics").joinpath("data", "doctor.toml").read_bytes()
    return tomllib.loads(data.decode("utf-8"))


def stage_title(lang: Lang, key: str) -> str:
    title: str = _texts()[lang]["stages"][key]
    return title


def say(lang: Lang, key: str, **values: object) -> str:
    """One line of a report, with its {placeholders} filled."""
    template: str = _texts()[lang]["say"][key]
    return template.format(**values)


def advice(lang: Lang, kind: str, **values: object) -> Advice:
    """The doctor's own advice for ``kind`` (what it means, causes, fixes), filled in."""
    raw = _texts()[lang]["advice"][kind]
    found = Advice(raw["meaning"], tuple(raw["causes"]), tuple(raw["fixes"]), raw.get("title", ""))
    return found.filled({k: str(v) for k, v in values.items()})
