"""Every user-facing text exists in English and both Chinese scripts, in the right script,
and none names where the knowledge came from."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pasv.diagnostics.knowledge import LANGS, parse_lang

DATA = Path(__file__).resolve().parents[2] / "src" / "pasv" / "diagnostics" / "data"
README = Path(__file__).resolve().parents[2] / "README.md"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "diagnostics.md"
# Characters that exist only in one script (each is written differently in the other).
SIMPLIFIED_ONLY = set("这们务连错误认证过设门户数据时间应该请没处发远络览码传输线库录开关单击")
TRADITIONAL_ONLY = set("這們務連錯誤認證過設門戶數據時間應該請沒處發遠絡覽碼傳輸線庫錄開關單擊")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def _by_language(node: Any, lang: str | None = None) -> Iterator[tuple[str, str]]:
    """(language, text) for every text under a language key, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _by_language(value, key if key in LANGS else lang)
    elif isinstance(node, list):
        for item in node:
            yield from _by_language(item, lang)
    elif isinstance(node, str) and lang is not None:
        yield lang, node


# refusals.toml holds servers' literal texts; the kinds they map to are words of texts.toml.
FILES = sorted(p for p in DATA.glob("*.toml") if p.name != "refusals.toml")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_text_is_written_in_its_own_script(path: Path) -> None:
    texts = list(_by_language(tomllib.loads(path.read_text("utf-8"))))
    assert {lang for lang, _ in texts} == set(LANGS)
    for lang, text in texts:
        if lang == "zh-Hant":
            assert not SIMPLIFIED_ONLY & set(text), text
        if lang == "zh-Hans":
            assert not TRADITIONAL_ONLY & set(text), text


def _shape(node: Any) -> Any:
    """The keys and list lengths of a language's texts (what must be the same in every one)."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return len(node)
    return "text"


def _languages(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if set(LANGS) & set(node):
            yield node
        for key, value in node.items():
            if key not in LANGS:
                yield from _languages(value)
    elif isinstance(node, list):
        for item in node:
            yield from _languages(item)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_text_exists_in_every_language(path: Path) -> None:
    holders = list(_languages(tomllib.loads(path.read_text("utf-8"))))
    assert holders
    for holder in holders:
        shapes = {lang: _shape(holder.get(lang)) for lang in LANGS}
        assert shapes["en"] == shapes["zh-Hans"] == shapes["zh-Hant"], holder.get("en")
        for lang in LANGS:
            for text in _strings(holder[lang]):
                placeholders = set(re.findall(r"\{(\w+)\}", text))
                assert placeholders <= set(re.findall(r"\{(\w+)\}", str(holder["en"])))


@pytest.mark.parametrize("path", [*DATA.glob("*.toml"), README, DOCS], ids=lambda p: p.name)
def test_no_text_names_where_the_knowledge_came_from(path: Path) -> None:
    text = path.read_text("utf-8")
    for word in ("seed", "资料中", "資料中"):
        assert word not in text.lower(), word


@pytest.mark.parametrize(
    ("name", "lang"),
    [
        ("zh", "zh-Hans"),
        ("zh-Hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-Hant", "zh-Hant"),
        ("zh-TW", "zh-Hant"),
        ("zh_HK.UTF-8", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("en", "en"),
        ("en_GB.UTF-8", "en"),
        ("fr", None),
    ],
)
def test_language_tags(name: str, lang: str | None) -> None:
    assert parse_lang(name) == lang
