"""A doctor's report: one verdict per stage, its advice, and the exit status it leads to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

from pasv.diagnostics.classify import classify_reply, code_advice
from pasv.diagnostics.doctor.texts import stage_title
from pasv.diagnostics.knowledge import Advice, Lang, knowledge
from pasv.protocol.replies import Reply

__all__ = ["LIMIT_KINDS", "Exit", "Report", "Stage", "Status", "reply_advice", "stage_of"]

Status = Literal["ok", "warn", "fail", "skip"]
CONNECTION_STAGES = frozenset({"dns", "tcp", "banner", "tls", "host"})
# A reply of one of these kinds ends the probe: going on could turn a limit into a ban.
LIMIT_KINDS = frozenset(
    {"banned", "too_many_users", "group_limit", "session_limit_per_ip", "session_limit_per_user",
     "server_connections_full"}
)  # fmt: skip
# The doctor's stages, as the places where a failure happens (classify.STAGES).
_STAGE_OF = {"banner": "greeting", "host": "greeting", "epsv": "data", "pasv": "data",
             "port": "data", "data_tls": "data", "throughput": "listing"}  # fmt: skip


def stage_of(key: str) -> str:
    """Where a failure of the doctor's stage ``key`` happens (dns, tcp, greeting … write)."""
    return _STAGE_OF.get(key, key)


class Exit(IntEnum):
    """`pasv doctor`'s exit status (documented in docs/diagnostics.md)."""

    OK = 0  # every stage passed (warnings allowed)
    DATA = 1  # logged in, but a requested transfer mode, the listing or --write failed
    USAGE = 2  # bad arguments or URL, no password available
    LOGIN = 3  # the login was refused
    CONNECTION = 4  # DNS, TCP, the greeting or TLS failed
    LIMIT = 5  # a ban or a connection limit: the doctor stopped there (try again later)


@dataclass
class Stage:
    """One probe's verdict: a summary line, what was seen, and advice when it is not ok."""

    key: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    kind: str | None = None
    advice: Advice | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, lang: Lang) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.key,
            "title": stage_title(lang, self.key),
            "status": self.status,
            "summary": self.summary,
            "details": self.details,
            "data": self.data,
        }
        if self.kind is not None:
            out["kind"] = self.kind
        if self.advice is not None:
            out["advice"] = {
                "title": self.advice.title,
                "meaning": self.advice.meaning,
                "causes": list(self.advice.causes),
                "fixes": list(self.advice.fixes),
            }
        return out


@dataclass
class Report:
    """Every stage that ran, in order."""

    target: str
    lang: Lang
    stages: list[Stage] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)  # the doctor's own connections, logins

    def stage(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    @property
    def exit_code(self) -> Exit:
        failed = [s.key for s in self.stages if s.status == "fail"]
        if not failed:
            return Exit.OK
        if any(s.status == "fail" and s.kind in LIMIT_KINDS for s in self.stages):
            return Exit.LIMIT
        if failed[0] in CONNECTION_STAGES:
            return Exit.CONNECTION
        return Exit.LOGIN if failed[0] == "login" else Exit.DATA

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "lang": self.lang,
            "ok": self.exit_code == Exit.OK,
            "exit_code": int(self.exit_code),
            "probe": self.probe,
            "stages": [s.as_dict(self.lang) for s in self.stages],
        }


def reply_advice(
    reply: Reply, lang: Lang, stage: str, command: str | None = None
) -> tuple[str | None, Advice | None]:
    """The failure kind and advice for a refusal at the doctor's ``stage`` (its key), in reply
    to ``command``: its known text, else its code's entry, which then says it is only that."""
    found = classify_reply(reply.code, reply.text, command=command, stage=stage_of(stage))
    if found is not None:
        return found.kind, found.advice(lang)
    general = code_advice(reply.code, lang)
    if general is None:
        return None, None
    note = knowledge().note(lang, "unknown_text", code=reply.code)
    return None, Advice(f"{note} {general.meaning}", general.causes, general.fixes, general.title)
