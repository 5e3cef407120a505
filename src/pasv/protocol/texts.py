"""Reply texts that can be said in another language: the English words, with the catalogue key
and the values that fill its placeholders (the server translates them per session)."""

from __future__ import annotations

from typing import Any

__all__ = ["Said", "said"]


class Said(str):
    """A text from the reply catalogue. It *is* its English words (logs, tests and English
    sessions use it as a plain ``str``); ``said`` holds the table (``replies``, ``messages``:
    an operator-configurable policy text, or ``errors``), the key and the values, so a session
    in another language can say the same thing. Made by ``said()``."""

    said: tuple[str, str, dict[str, Any]]

    @property
    def source(self) -> str:
        return self.said[0]

    @property
    def key(self) -> str:
        return self.said[1]

    @property
    def values(self) -> dict[str, Any]:
        return self.said[2]


def said(source: str, key: str, template: str, /, **values: Any) -> Said:
    """The text ``template`` with ``values`` filled in, remembering how it was made.

    A function rather than ``Said.__new__``: a str subclass's own ``__new__`` costs three times
    as much, and refusals and replies are made on every command."""
    text = Said(template.format_map(values) if values else template)
    text.said = (source, key, values)
    return text
