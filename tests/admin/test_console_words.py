"""The console's words: every language has every key, and every key a page uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from pasv.admin.i18n import LANGUAGES, catalogue, pick_language

TEMPLATES = Path(__file__).parents[2] / "src" / "pasv" / "admin" / "templates"


def test_every_language_has_the_same_keys() -> None:
    words = catalogue()
    assert set(words) == set(LANGUAGES)
    english = set(words["en"])
    for lang, table in words.items():
        assert set(table) == english, lang
        assert all(value.strip() for value in table.values()), lang


def test_every_word_a_template_uses_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\.([a-z_]+)\b", template.read_text()))
    used -= {"get"}
    assert used <= set(catalogue()["en"]), used - set(catalogue()["en"])


def test_the_language_comes_from_the_cookie_then_the_browser() -> None:
    assert pick_language("zh-Hant", "en") == "zh-Hant"
    assert pick_language(None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-Hans"
    assert pick_language(None, "zh-TW,zh;q=0.9") == "zh-Hant"
    assert pick_language(None, "fr-FR,en;q=0.5") == "en"
    assert pick_language("xx", None) == "en"
