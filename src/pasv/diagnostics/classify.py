"""Classify a reply, a client error message or an OSError into a known failure kind.

This is the seam `pasv doctor` reuses: each probe hands over what it saw and gets back a
`Diagnosis` whose advice (en/zh) says what happened and how to fix it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field

from pasv.diagnostics.knowledge import Advice, Lang, knowledge, parse_lang

__all__ = [
    "Diagnosis",
    "classify_message",
    "classify_os_error",
    "classify_reply",
    "code_advice",
    "language_from_locale",
]

_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}

_ERRNO_KINDS = {
    errno.ECONNREFUSED: "connection_refused",
    errno.ETIMEDOUT: "connection_timed_out",
    errno.ECONNRESET: "disconnected_at_connect",
    errno.ECONNABORTED: "disconnected_at_connect",
    errno.EPIPE: "disconnected_at_connect",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.ENETUNREACH: "host_unreachable",
}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A recognised failure kind, with the values its text revealed (n, minutes, name)."""

    kind: str
    code: int | None = None
    values: dict[str, str] = field(default_factory=dict)

    def advice(self, lang: Lang) -> Advice:
        for entry in knowledge().texts:
            if entry.kind == self.kind:
                return entry.advice[lang].filled(self.values)
        raise KeyError(self.kind)


def _classify(code: int | None, text: str) -> Diagnosis | None:
    for entry in knowledge().texts:
        values = entry.match(code, text)
        if values is not None:
            if "n" in values:
                values["n"] = _WORDS.get(values["n"].lower(), values["n"])
            return Diagnosis(entry.kind, code, values)
    return None


def classify_reply(code: int, text: str) -> Diagnosis | None:
    """The failure kind of a reply, when its text is a well-known one."""
    return _classify(code, text.strip())


def classify_message(text: str) -> Diagnosis | None:
    """The failure kind of a client-side error message ("Connection refused" ...)."""
    return _classify(None, text.strip())


def classify_os_error(exc: OSError) -> Diagnosis | None:
    """The failure kind of a socket error raised while connecting or talking to a server."""
    if isinstance(exc, TimeoutError):
        return Diagnosis("connection_timed_out")
    if isinstance(exc, socket.gaierror):
        return Diagnosis("dns_failure")
    kind = _ERRNO_KINDS.get(exc.errno or 0)
    if kind is None and isinstance(exc, EOFError | ConnectionError):
        kind = "disconnected_at_connect"
    return Diagnosis(kind) if kind else classify_message(str(exc))


def code_advice(code: int, lang: Lang) -> Advice | None:
    """The knowledge base's entry for a reply code, if it has one."""
    entry = knowledge().codes.get(code)
    return entry[lang] if entry else None


def language_from_locale(*names: str | None) -> Lang:
    """The language of the first locale name set: "zh_TW", "zh_HK" give Traditional Chinese,
    other Chinese locales ("zh_CN.UTF-8") Simplified, anything else English."""
    for name in names:
        if name and name not in ("C", "POSIX"):
            return (parse_lang(name) if name.lower().startswith("zh") else None) or "en"
    return "en"
