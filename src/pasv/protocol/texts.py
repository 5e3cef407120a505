"""Reply texts that can be said in another language: the English words, with the catalogue key
and the values that fill its placeholders (the server translates them per session)."""

from __future__ import annotations

from typing import Any

__all__ = ["Said"]


class Said(str):
    """A text from the reply catalogue. It *is* its English words (logs, tests and English
    sessions use it as a plain ``str``); ``key`` and ``values`` let a session in another
    language say the same thing. ``source`` names the table: ``replies``, ``messages`` (an
    operator-configurable policy text) or ``errors``."""

    key: str
    values: dict[str, Any]
    source: str

    def __new__(cls, source: str, key: str, template: str, /, **values: Any) -> Said:
        obj = super().__new__(cls, template.format(**values) if values else template)
        obj.source, obj.key, obj.values = source, key, values
        return obj
