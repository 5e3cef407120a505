"""The console's words in English and Chinese (data/console.toml), and the choice of language."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

LANGUAGES = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    with (Path(__file__).parent / "data" / "console.toml").open("rb") as file:
        data: dict[str, dict[str, str]] = tomllib.load(file)
    return data


def texts(lang: str) -> dict[str, str]:
    return catalogue()[lang if lang in LANGUAGES else "en"]


def pick_language(cookie: str | None, accept: str | None) -> str:
    """The language cookie, else the first Chinese or English one the browser asks for."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag in ("zh-tw", "zh-hk", "zh-mo", "zh-hant") or tag.startswith("zh-hant"):
            return "zh-Hant"
        if tag.startswith("zh"):
            return "zh-Hans"
        if tag.startswith("en"):
            return "en"
    return "en"


catalogue()  # read at import: the serving user may not reach this file after the switch
