"""The explanation knowledge base: loads data/*.toml into typed, immutable values."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

Lang = Literal["en", "zh-Hans", "zh-Hant"]
LANGS: tuple[Lang, ...] = get_args(Lang)
# Chinese regions and script tags that are written in Traditional characters.
_HANT = ("hant", "tw", "hk", "mo")


def parse_lang(name: str) -> Lang | None:
    """The language a tag or locale name stands for: "zh-TW", "zh_HK.UTF-8", "zh-Hant" and
    "zh_Hant_TW" are Traditional Chinese, other "zh…" names ("zh", "zh_CN", "zh-Hans")
    Simplified, "en…" English; None for anything else."""
    base = name.split(".")[0].split("@")[0].replace("_", "-").lower()
    parts = base.split("-")
    if parts[0] == "zh":
        return "zh-Hant" if any(p in _HANT for p in parts[1:]) else "zh-Hans"
    return "en" if parts[0] == "en" else None


@dataclass(frozen=True, slots=True)
class Advice:
    """What something means, why it happens and what to do, in one language."""

    meaning: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    title: str = ""

    def filled(self, values: dict[str, str]) -> Advice:
        """The advice with {placeholders} replaced (missing ones shown as "?")."""

        def fill(text: str) -> str:
            return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "?"), text)

        return Advice(
            fill(self.meaning),
            tuple(fill(c) for c in self.causes),
            tuple(fill(f) for f in self.fixes),
            fill(self.title),
        )


@dataclass(frozen=True, slots=True)
class KnownText:
    """A failure kind recognised by its text (a server reply text or a client error message)."""

    kind: str
    codes: frozenset[int]
    patterns: tuple[re.Pattern[str], ...]
    advice: dict[Lang, Advice]
    stages: frozenset[str] = frozenset()  # where this can happen (STAGES); empty: anywhere

    def match(self, code: int | None, text: str) -> dict[str, str] | None:
        """The placeholder values when this entry matches ``text`` (sent with ``code``)."""
        if (code is None) != (not self.codes) or (code is not None and code not in self.codes):
            return None
        for pattern in self.patterns:
            m = pattern.search(text)
            if m is not None:
                return {k: v.strip() for k, v in m.groupdict().items() if v}
        return None


# Placeholders of a catalogue text and what they match.
_HOLES = {
    "{n}": r"(?P<n>\d+)",
    "{minutes}": r"(?P<minutes>\d+)",
    "{name}": r"(?P<name>.+?)",
    "{until}": r"(?P<until>.+?)",
    "{*}": r".*?",
}
_HOLE = re.compile("|".join(re.escape(h) for h in _HOLES))


@dataclass(frozen=True, slots=True)
class Refusal:
    """One server's literal refusal text (the catalogue, data/refusals.toml) and its kind."""

    server: str
    code: int
    text: str
    kind: str
    setting: str = ""
    commands: frozenset[str] = frozenset()  # only in reply to these commands (PORT …)
    pattern: re.Pattern[str] = re.compile("")

    def match(self, code: int, text: str) -> dict[str, str] | None:
        """The placeholder values when ``text`` (sent with ``code``) is this refusal."""
        if code != self.code:
            return None
        m = self.pattern.fullmatch(text.strip().rstrip("."))
        return None if m is None else {k: v.strip() for k, v in m.groupdict().items() if v}


def _literal(text: str) -> re.Pattern[str]:
    parts = _HOLE.split(text.strip().rstrip("."))
    holes = _HOLE.findall(text.strip().rstrip("."))
    regex = re.escape(parts[0]) + "".join(
        _HOLES[hole] + re.escape(part) for hole, part in zip(holes, parts[1:], strict=True)
    )
    return re.compile(regex, re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Knowledge:
    """Everything `pasv explain` knows."""

    codes: dict[int, dict[Lang, Advice]]
    texts: tuple[KnownText, ...]
    notes: dict[Lang, dict[str, Any]]
    refusals: tuple[Refusal, ...] = ()

    def kind(self, name: str) -> KnownText:
        """The failure kind called ``name`` (KeyError if there is none)."""
        for entry in self.texts:
            if entry.kind == name:
                return entry
        raise KeyError(name)

    def note(self, lang: Lang, key: str, **values: object) -> str:
        """A note or heading of ``lang``, with its placeholders filled."""
        text: str = self.notes[lang][key]
        return text.format(**values) if values else text


def _advice(raw: dict[str, Any]) -> Advice:
    return Advice(
        meaning=raw["meaning"],
        causes=tuple(raw["causes"]),
        fixes=tuple(raw["fixes"]),
        title=raw.get("title", ""),
    )


def _load(name: str) -> dict[str, Any]:
    data = resources.files("pasv.diagnostics").joinpath("data", name).read_bytes()
    return tomllib.loads(data.decode("utf-8"))


@cache
def knowledge() -> Knowledge:
    """The knowledge base, read once from the package's data files."""
    codes = {
        int(code): {lang: _advice(entry[lang]) for lang in LANGS}
        for code, entry in _load("codes.toml")["codes"].items()
    }
    texts = tuple(
        KnownText(
            kind=entry["kind"],
            codes=frozenset(entry["codes"]),
            patterns=tuple(re.compile(p, re.IGNORECASE) for p in entry["patterns"]),
            advice={lang: _advice(entry[lang]) for lang in LANGS},
            stages=frozenset(entry.get("stages", ())),
        )
        for entry in _load("texts.toml")["texts"]
    )
    refusals = tuple(
        Refusal(
            server=entry["server"],
            code=entry["code"],
            text=entry["text"],
            kind=entry["kind"],
            setting=entry.get("setting", ""),
            commands=frozenset(entry.get("commands", ())),
            pattern=_literal(entry["text"]),
        )
        for entry in _load("refusals.toml")["refusals"]
    )
    notes = _load("notes.toml")
    return Knowledge(codes, texts, {lang: notes[lang] for lang in LANGS}, refusals)
