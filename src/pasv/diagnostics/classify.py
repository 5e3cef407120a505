"""Classify a reply, a client error message or an OSError into a known failure kind.

This is the seam `pasv doctor` and the log reader reuse: each hands over what it saw, where it
was seen (the stage) and in reply to which command, and gets back a `Diagnosis` whose advice
says what happened and how to fix it, in the stage's own terms.
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass, field

from pasv.diagnostics.knowledge import Advice, KnownText, Lang, knowledge, parse_lang

__all__ = [
    "STAGES",
    "Diagnosis",
    "classify_message",
    "classify_os_error",
    "classify_reply",
    "code_advice",
    "language_from_locale",
]

# Where a failure can happen, in the order a session goes through them.
STAGES = ("dns", "tcp", "greeting", "tls", "login", "data", "listing", "write")

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
# The same client message means something else on the control and on a data connection.
_ON_DATA = {"connection_refused": "data_connection_refused",
            "connection_timed_out": "data_connection_timed_out"}  # fmt: skip
_DATA_VARIANTS = frozenset(_ON_DATA.values())
_DATA_STAGES = frozenset({"data", "listing", "write"})
_MENTIONS_DATA = re.compile(
    r"\[data\]|data (connection|channel|socket)|数据连接|資料連線|數據連接", re.IGNORECASE
)
# A refusal of PORT/EPRT/PASV/EPSV/AUTH says the mode or TLS is refused, not "syntax error";
# kinds that say something more precise, or about another matter, are kept.
_KEEP = frozenset({"not_logged_in_yet", "server_misconfigured", "idle_timeout", "shutting_down"})
_ACTIVE = frozenset({"active_refused", "active_foreign_address", "active_privileged_port"})
_REFUSED = frozenset({500, 501, 502, 504, 534, 550})


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """A recognised failure kind, with the values its text revealed (n, minutes, name) and,
    for a text of the catalogue, the server that sends it and the setting behind it."""

    kind: str
    code: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    server: str = ""
    setting: str = ""

    def advice(self, lang: Lang) -> Advice:
        kb = knowledge()
        values = dict(self.values)
        if "minutes" in values:
            values["ban_end"] = kb.note(lang, "ban_minutes", minutes=values["minutes"])
        elif "until" in values:
            values["ban_end"] = kb.note(lang, "ban_until", until=values["until"])
        else:
            values["ban_end"] = ""
        values["count"] = kb.note(lang, "count", n=values["n"]) if "n" in values else ""
        found = kb.kind(self.kind).advice[lang].filled(values)
        if not self.server:
            return found
        note = (
            kb.note(lang, "server_setting", server=self.server, setting=self.setting)
            if self.setting
            else kb.note(lang, "server_text", server=self.server)
        )
        return Advice(found.meaning, (*found.causes, note), found.fixes, found.title)


def _fits(entry: KnownText, stage: str | None) -> bool:
    return stage is None or not entry.stages or stage in entry.stages


def _patterns(code: int | None, text: str, stage: str | None) -> Diagnosis | None:
    for entry in knowledge().texts:
        if not _fits(entry, stage) or (stage is None and entry.kind in _DATA_VARIANTS):
            continue
        values = entry.match(code, text)
        if values is not None:
            if "n" in values:
                values["n"] = _WORDS.get(values["n"].lower(), values["n"])
            return Diagnosis(entry.kind, code, values)
    return None


def _catalogue(code: int, text: str, verb: str, stage: str | None) -> Diagnosis | None:
    """The catalogue's entry for this literal text; every server that sends it is named."""
    kb = knowledge()
    hits = [
        (refusal, values)
        for refusal in kb.refusals
        if (not refusal.commands or verb in refusal.commands)
        and _fits(kb.kind(refusal.kind), stage)
        and (values := refusal.match(code, text)) is not None
    ]
    if not hits:
        return None
    first, values = hits[0]
    same = [r for r, _ in hits if r.kind == first.kind and r.commands == first.commands]
    servers = ", ".join(dict.fromkeys(r.server for r in same))
    setting = first.setting if len(same) == 1 else ""
    return Diagnosis(first.kind, code, values, servers, setting)


def _in_reply_to(verb: str, code: int, found: Diagnosis | None) -> Diagnosis | None:
    """What a refusal of a data-mode or TLS command means, whatever its words."""
    if code not in _REFUSED or (found is not None and found.kind in _KEEP):
        return found
    kind = {"PORT": "active_refused", "EPRT": "active_refused", "PASV": "passive_refused",
            "EPSV": "passive_refused", "AUTH": "auth_refused"}.get(verb)  # fmt: skip
    if kind is None:
        return found
    if verb == "EPSV" and code != 550:
        kind = "epsv_unsupported"
    if found is not None and (found.kind in _ACTIVE or found.kind == kind):
        return found
    return Diagnosis(kind, code, found.values if found else {}, found.server if found else "")


def classify_reply(
    code: int, text: str, *, command: str | None = None, stage: str | None = None
) -> Diagnosis | None:
    """The failure kind of a reply: its literal text in the catalogue, else a well-known
    wording; a refusal of PORT/EPRT/PASV/EPSV/AUTH (``command``) is the refusal of that mode.
    With ``stage``, only kinds that can happen at that stage are considered."""
    verb = (command or "").split(" ", 1)[0].upper()
    text = text.strip()
    found = _catalogue(code, text, verb, stage) or _patterns(code, text, stage)
    return _in_reply_to(verb, code, found) if verb else found


def classify_message(text: str, stage: str | None = None) -> Diagnosis | None:
    """The failure kind of a client-side error message ("Connection refused" ...): on a data
    connection when ``stage`` is a data stage, or when the message itself says so."""
    found = _patterns(None, text.strip(), stage)
    if found is None:
        return None
    on_data = stage in _DATA_STAGES if stage else bool(_MENTIONS_DATA.search(text))
    if on_data and found.kind in _ON_DATA:
        return Diagnosis(_ON_DATA[found.kind], None, found.values)
    return found


def classify_os_error(exc: OSError, stage: str | None = None) -> Diagnosis | None:
    """The failure kind of a socket error raised while connecting or talking to a server."""
    if isinstance(exc, TimeoutError):
        kind: str | None = "connection_timed_out"
    elif isinstance(exc, socket.gaierror):
        kind = "dns_failure"
    else:
        kind = _ERRNO_KINDS.get(exc.errno or 0)
        if kind is None and isinstance(exc, EOFError | ConnectionError):
            kind = "disconnected_at_connect"
    if kind is None:
        return classify_message(str(exc), stage)
    if stage in _DATA_STAGES:
        kind = _ON_DATA.get(kind, kind)
    return Diagnosis(kind)


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
