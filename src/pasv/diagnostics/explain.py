"""`pasv explain`: turn a reply code, a reply line, a PORT/EPRT or a client error into advice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pasv.diagnostics.addressing import (
    AddressDecoding,
    BadAddress,
    bad_address,
    decode_command,
    decode_reply,
)
from pasv.diagnostics.classify import Diagnosis, classify_message, classify_reply, code_advice
from pasv.diagnostics.knowledge import Lang, knowledge

__all__ = ["Explanation", "explain"]

# An optional log label ("Response:", "響應:", "ftp>") before the reply code.
_REPLY = re.compile(r"^(?:[^\d\s][^:：>]{0,24}[:：>]\s*)?(\d{3})(?:([ -])(.*))?$")


@dataclass(frozen=True, slots=True)
class Explanation:
    """What is known about one input line."""

    line: str
    code: int | None = None
    text: str = ""
    diagnosis: Diagnosis | None = None
    decoding: AddressDecoding | None = None
    bad: BadAddress | None = None  # a 227/229 whose address nobody can connect to

    @property
    def recognised(self) -> bool:
        return (
            self.diagnosis is not None
            or self.decoding is not None
            or self.bad is not None
            or (self.code is not None and 100 <= self.code <= 599)
        )

    def render(self, lang: Lang) -> dict[str, Any]:
        """A JSON-ready description in ``lang``: every section that applies, in reading order."""
        kb = knowledge()
        out: dict[str, Any] = {"input": self.line, "recognised": self.recognised}
        if self.code is not None:
            out["code"] = self.code
        if self.diagnosis is not None:
            advice = self.diagnosis.advice(lang)
            out["kind"] = self.diagnosis.kind
            out["specific"] = {
                "title": advice.title,
                "meaning": advice.meaning,
                "causes": list(advice.causes),
                "fixes": list(advice.fixes),
            }
        if self.decoding is not None:
            out["decoded"] = {
                "form": self.decoding.form,
                "host": self.decoding.host,
                "port": self.decoding.port,
                "category": self.decoding.category,
                "explanation": self.decoding.lines(lang),
            }
        if self.bad is not None:
            out["decoded"] = {
                "form": self.bad.form,
                "host": None,
                "port": None,
                "category": None,
                "problem": self.bad.problem,
                "explanation": self.bad.lines(lang),
            }
        if self.code is not None:
            general = code_advice(self.code, lang)
            if general is not None and (self.diagnosis is not None or self.bad is not None):
                # The text said which of the code's causes it is, or the reply is broken (whose
                # advice is its own, never that of a well-formed one): only what the code means.
                out["general"] = {"meaning": general.meaning, "causes": [], "fixes": []}
            elif general is not None:
                if self.text and self.decoding is None and self.bad is None:
                    out["unknown_text"] = kb.note(lang, "unknown_text", code=self.code)
                out["general"] = {
                    "meaning": general.meaning,
                    "causes": list(general.causes),
                    "fixes": list(general.fixes),
                }
            elif 100 <= self.code <= 599:
                digits = kb.notes[lang]
                out["general"] = {
                    "meaning": kb.note(lang, "generic", code=self.code),
                    "causes": [
                        digits["first_digit"][self.code // 100],
                        digits["second_digit"][min(self.code // 10 % 10, 5)],
                    ],
                    "fixes": [],
                }
        if not self.recognised:
            out["unknown"] = kb.note(lang, "unknown")
        return out


def _one(line: str) -> Explanation:
    m = _REPLY.match(line)
    if m is not None:
        code, text = int(m.group(1)), (m.group(3) or "").strip()
        decoding = decode_reply(code, text)
        return Explanation(
            line,
            code=code,
            text=text,
            diagnosis=classify_reply(code, text) if text else None,
            decoding=decoding,
            bad=bad_address(code, text) if text and decoding is None else None,
        )
    decoding = decode_command(line)
    if decoding is not None:
        return Explanation(line, decoding=decoding)
    return Explanation(line, diagnosis=classify_message(line))


def explain(query: str) -> list[Explanation]:
    """Explain each line of ``query``; lines of a pasted log that say nothing known are left out.

    A single unrecognised line is returned anyway, so the caller can say it is not known.
    """
    lines = [line.strip() for line in query.strip().splitlines() if line.strip()]
    found = [_one(line) for line in lines]
    known = [e for e in found if e.recognised]
    return known or found[:1] or [Explanation("")]
