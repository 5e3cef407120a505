"""Reply languages (RFC 2640 LANG): the catalogue of reply texts in lang/<language>.toml, and
the one function that says a text in a session's language.

English is what the code says; another language is looked up once per reply, by the key a
``Said`` text carries. Replies without values are built once per language and kept."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from pasv.policy.options import Messages, language_of
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply, make_reply
from pasv.protocol.texts import Said, said

__all__ = [
    "EN",
    "LANGUAGES",
    "catalogue",
    "error_text",
    "say",
    "session_language",
    "spoken",
    "translate",
]

EN = "en"
LANGUAGES = ("en", "zh-Hans")  # what FEAT lists, in this order
SECTIONS = ("replies", "messages", "errors", "texts")
_DEFAULT_MESSAGES = Messages()


@cache
def catalogue(lang: str) -> dict[str, dict[str, str]]:
    """``{section: {key: template}}`` of one language, read once."""
    raw = resources.files("pasv.server").joinpath("lang", f"{lang}.toml").read_bytes()
    data: dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    return {section: dict(data.get(section, {})) for section in SECTIONS}


_ENGLISH = catalogue(EN)["replies"]
for _lang in LANGUAGES:  # read at import: a worker switched to the serving user may not reach
    catalogue(_lang)  # these files any more (docs/security.md)


def say(key: str, /, **values: Any) -> str:
    """The reply text ``key`` in English, sayable in any session's language."""
    template = _ENGLISH[key]
    text = Said(template.format_map(values) if values else template)  # said(), inlined
    text.said = ("replies", key, values)
    return text


def placeholders(template: str) -> frozenset[str]:
    """The ``{names}`` a template fills."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


def translate(text: str, lang: str, messages: Messages) -> str:
    """``text`` in ``lang``: a catalogue text in its words there; anything else as it is.

    An operator's policy text: their own text in that language when they gave one, else their
    English text when they changed it, else the catalogue's."""
    if lang == EN:
        return text
    if not isinstance(text, Said):  # a fixed English text: its words there, when listed
        return catalogue(lang)["texts"].get(text, text)
    source, key, values = text.said
    if source == "messages":
        own = messages.translations.get(lang, {}).get(key)
        if own is not None:
            return _fill(own, values, lang, messages)
        if getattr(messages, key, None) != getattr(_DEFAULT_MESSAGES, key, None):
            return text
    template = catalogue(lang)[source].get(key)
    return text if template is None else _fill(template, values, lang, messages)


def _fill(template: str, values: dict[str, Any], lang: str, messages: Messages) -> str:
    if not values:
        return template
    shown = {
        k: translate(v, lang, messages) if isinstance(v, Said) else v for k, v in values.items()
    }
    try:
        return template.format(**shown)
    except (KeyError, IndexError, ValueError):  # an operator's text with a wrong placeholder
        return template


def error_text(exc: FtpError, lang: str, messages: Messages) -> str:
    """A refusal's reason in ``lang``: its catalogue text, or its class's default text there."""
    text = exc.text
    if lang == EN:
        return text
    if isinstance(text, Said):
        return translate(text, lang, messages)
    for cls in type(exc).__mro__:
        if cls.__dict__.get("default_text") is text:
            found: str = catalogue(lang)["errors"].get(cls.__name__, text)
            return found
    return translate(text, lang, messages)


def spoken_reply(reply: Reply, lang: str, messages: Messages) -> Reply:
    """``reply`` in ``lang``: each catalogue line in its words there (the code never changes)."""
    lines = tuple(translate(line, lang, messages) for line in reply.lines)
    return reply if lines == reply.lines else Reply(reply.code, lines)


def default_said(exc: FtpError) -> str:
    """A refusal's text; its class's default text made sayable in another language."""
    text = exc.text
    if isinstance(text, Said):
        return text
    for cls in type(exc).__mro__:
        if cls.__dict__.get("default_text") is text:
            return said("errors", cls.__name__, text)
    return text


@cache
def spoken(lang: str, code: int, key: str) -> Reply:
    """A reply without values, built once per language."""
    return make_reply(code, catalogue(lang)["replies"][key])


def session_language(tag: str) -> str | None:
    """The catalogue language for a LANG argument (``ZH-CN`` -> ``zh-Hans``), or None."""
    found = language_of(tag)
    return found if found in LANGUAGES else None
