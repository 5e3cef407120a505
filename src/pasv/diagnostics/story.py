"""`pasv explain --log`: a pasted client log read as one story. The first step that failed is
found and explained at its stage, in the light of the steps before it (the greeting, the login,
the 227 that announced the data connection)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from pasv.diagnostics.addressing import AddressDecoding, decode_command, decode_reply
from pasv.diagnostics.classify import Diagnosis, classify_message, classify_reply, code_advice
from pasv.diagnostics.clientlog import Event, read_log
from pasv.diagnostics.knowledge import Lang, knowledge

__all__ = ["Story", "read_story"]

_STAGE_OF_VERB = {
    **dict.fromkeys(("AUTH", "PBSZ", "PROT", "CCC"), "tls"),
    **dict.fromkeys(("USER", "PASS", "ACCT"), "login"),
    **dict.fromkeys(("PASV", "EPSV", "PORT", "EPRT"), "data"),
    **dict.fromkeys(("LIST", "NLST", "MLSD", "RETR", "CWD", "CDUP", "PWD", "STAT"), "listing"),
    **dict.fromkeys(("STOR", "STOU", "APPE", "DELE", "MKD", "RMD", "RNFR", "RNTO"), "write"),
}
# Refusals clients expect and work around (a feature the server lacks): not the failure.
_OPTIONAL = frozenset(
    [
        "FEAT",
        "SYST",
        "OPTS",
        "CLNT",
        "SITE",
        "HOST",
        "LANG",
        "ALLO",
        "XPWD",
        "MLST",
        "MLSD",
        "SIZE",
        "MDTM",
        "EPSV",
        "PBSZ",
        "PROT",
    ]
)
_TRANSFER = frozenset(("LIST", "NLST", "MLSD", "RETR", "STOR", "STOU", "APPE"))
_CONNECTING = re.compile(
    r"(?:connecting to|trying|正在連接|正在连接|正在連線|connected to)\s+\[?"
    r"(?P<host>[0-9a-f.:]*[0-9a-f]|[\w.-]+)\]?",
    re.IGNORECASE,
)
_CONNECTED = re.compile(
    r"^connected\b|waiting for (response|welcome)|連接建立|连接建立|連線建立|等待歡迎|等待欢迎",
    re.I,
)
_DISCONNECTED = re.compile(
    r"disconnected|connection attempt failed|connection closed|reset by peer|斷開|断开", re.I
)
_RETRY = re.compile(r"waiting for retry|retrying|reconnecting|重試|重试|重新連接|重新连接", re.I)


@dataclass
class Story:
    """What a log shows: its steps, the first that failed, where, and why."""

    events: list[Event]
    failed: Event | None = None
    stage: str | None = None
    diagnosis: Diagnosis | None = None
    announced: AddressDecoding | None = None  # the data address announced before the failure
    peer: str | None = None  # the server's address, when the log names it
    context: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def render(self, lang: Lang) -> dict[str, Any]:
        """A JSON-ready account in ``lang``: the steps, the failure and the advice."""
        kb = knowledge()
        out: dict[str, Any] = {
            "steps": [{"line": e.number, "kind": e.kind, "text": e.text} for e in self.events],
            "recognised": bool(self.events),
        }
        if self.failed is None:
            out["summary"] = kb.note(lang, "story_nothing" if self.events else "story_empty")
            return out
        stage_name = kb.notes[lang]["story_stages"][self.stage or "tcp"]
        out["failed"] = {"line": self.failed.number, "text": self.failed.text,
                         "stage": self.stage, "stage_title": stage_name}  # fmt: skip
        out["summary"] = kb.note(
            lang, "story_failed", line=self.failed.number, stage=stage_name, text=self.failed.text
        )
        out["context"] = [kb.note(lang, key, **values) for key, values in self.context]
        if self.announced is not None:
            out["decoded"] = self.announced.lines(lang)
        code = self.failed.code
        if self.diagnosis is not None:
            advice = self.diagnosis.advice(lang)
            out["kind"] = self.diagnosis.kind
        else:
            general = code_advice(code, lang) if code is not None else None
            if general is None:
                return out
            out["context"].append(kb.note(lang, "unknown_text", code=code))
            advice = general
        out["advice"] = {"title": advice.title, "meaning": advice.meaning,
                         "causes": list(advice.causes), "fixes": list(advice.fixes)}  # fmt: skip
        return out


def _address(text: str) -> str | None:
    m = _CONNECTING.search(text)
    if m is None:
        return None
    host = m.group("host").rstrip(".")
    for candidate in (host, host.rsplit(":", 1)[0]):  # "203.0.113.5:21" names port 21 too
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _optional(events: list[Event], index: int, verb: str) -> bool:
    """A refusal the client works around: an optional command, or AUTH before a plain login."""
    if verb in _OPTIONAL:
        return True
    later = [e.verb for e in events[index + 1 :] if e.kind == "command"]
    return verb == "AUTH" and "USER" in later


class _Reader:
    """Walks the events, keeping the stage, the last command and the data announcement."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.story = Story(events)
        self.stage = "tcp"
        self.command = ""
        self.data_pending = False  # a data connection was announced and not yet used up
        self.opened = ""  # the 125/150 of the transfer under way (no 226 yet)
        self.greeted = False
        self.connected = False

    def read(self) -> Story:
        for index, event in enumerate(self.events):
            if self._step(index, event):
                break
        return self.story

    def _fail(self, event: Event, diagnosis: Diagnosis | None, stage: str) -> bool:
        self.story.failed, self.story.diagnosis, self.story.stage = event, diagnosis, stage
        return True

    def _step(self, index: int, event: Event) -> bool:
        if event.kind == "status":
            return self._status(event)
        if event.kind == "command":
            self._command(event)
            return False
        if event.kind == "reply":
            return self._reply(index, event)
        return self._error(index, event)

    def _status(self, event: Event) -> bool:
        host = _address(event.text)
        if host is not None and self.story.peer is None and not self.greeted:
            self.story.peer = host
        if _CONNECTED.search(event.text) and not self.greeted:
            self.connected = True
            self.stage = "greeting"
        return False

    def _command(self, event: Event) -> None:
        # A client sends commands only after the greeting (the log may have lost it).
        self.connected = self.greeted = True
        self.command = event.text
        self.stage = _STAGE_OF_VERB.get(event.verb, self.stage)
        if event.verb in ("PORT", "EPRT", "PASV", "EPSV"):
            self.opened = ""
        if event.verb in ("PORT", "EPRT"):
            self.story.announced = decode_command(event.text)
            self.data_pending = True
        if event.verb in _TRANSFER and self.data_pending:
            self.stage = "data"  # the transfer's data connection is what comes next

    def _reply(self, index: int, event: Event) -> bool:
        code = event.code
        if code is None or not event.final:
            return False
        greeting = not self.greeted and not self.command  # the server's first word
        self.connected = self.greeted = True
        if code == 220:
            self.greeted, self.connected = True, True
            self.story.context.append(("story_greeted", {"reply": event.text}))
            self.stage = "login"
        elif code == 230:
            self.story.context.append(("story_logged_in", {}))
        elif code in (227, 229):
            self.story.announced = decode_reply(code, event.reply_text)
            self.data_pending = True
        elif code in (125, 150):  # a transfer under way (its announcement may not be shown)
            if self.data_pending:
                self.stage = "data"
            elif self.stage not in ("listing", "write"):
                self.stage = "listing"
            self.opened = event.text
        elif code == 226:
            self.data_pending, self.opened = False, ""
        if code < 400:
            return False
        verb = self.command.split(" ", 1)[0].upper()
        if code != 421 and _optional(self.events, index, verb):
            return False
        stage = "greeting" if greeting else self.stage
        if code in (425, 426) or (verb in _TRANSFER and self.stage == "data"):
            stage = "data"
        found = classify_reply(code, event.reply_text, command=self.command or None, stage=stage)
        found = found or classify_reply(code, event.reply_text, command=self.command or None)
        if stage == "data" and code in (425, 426) and verb not in ("PORT", "EPRT"):
            self._blame_data_connection()
        return self._fail(event, found, stage)

    def _blame_data_connection(self) -> None:
        """A 425/426: in active mode the server could not reach the client, else the 227."""
        announced = self.story.announced
        if announced is not None and announced.form in ("PORT", "EPRT"):
            self.story.context.append(
                ("story_active", {"host": announced.host, "port": announced.port})
            )
        else:
            self._blame_address()

    def _error(self, index: int, event: Event) -> bool:
        if not self.greeted and self.connected and _DISCONNECTED.search(event.text):
            retried = any(_RETRY.search(e.text) for e in self.events[index:])
            if retried:
                self.story.context.append(("story_ban", {}))
                return self._fail(event, Diagnosis("banned"), "greeting")
            return self._fail(event, Diagnosis("disconnected_at_connect"), "greeting")
        stage = "data" if self.data_pending and self.greeted else self.stage
        if not self.connected and not self.greeted:
            stage = "tcp"
        found = classify_message(event.text, stage) or classify_message(event.text)
        if found is not None and found.kind == "dns_failure":
            stage = "dns"
        if stage == "data" or (self.opened and stage in ("listing", "write")):
            found = self._data_failure(found)
        return self._fail(event, found, stage)

    def _data_failure(self, found: Diagnosis | None) -> Diagnosis | None:
        """A client error on the data connection: in active mode the server could not connect
        back; after a 150 in passive mode the connection was made and the transfer hangs."""
        announced = self.story.announced
        if announced is not None and announced.form in ("PORT", "EPRT"):
            self._blame_data_connection()
            return Diagnosis("active_connect_failed")
        if self.opened and found is not None and found.kind == "data_connection_timed_out":
            note = "story_stalled" if announced is not None else "story_stalled_mode"
            self.story.context.append((note, {"reply": self.opened}))
            return Diagnosis("transfer_stalled")
        self._blame_address()
        return found

    def _blame_address(self) -> None:
        """Name NAT or the firewall from the announced address and the server's address."""
        announced = self.story.announced
        if announced is None or announced.host is None or announced.form not in ("227",):
            if announced is not None:
                self.story.context.append(("story_port_closed", {"port": announced.port}))
            return
        host, peer = announced.host, self.story.peer
        address = ipaddress.ip_address(host)
        differs = peer is not None and peer != host
        if (differs or peer is None) and not address.is_global:
            values: dict[str, object] = {"host": host, "peer": peer or "?"}
            self.story.context.append(("story_nat" if differs else "story_private", values))
        elif differs:
            self.story.context.append(("story_other_host", {"host": host, "peer": peer}))
        else:
            self.story.context.append(("story_port_closed", {"port": announced.port}))


def read_story(text: str) -> Story:
    """Read a pasted client log (any of the clients clientlog knows) as one story."""
    return _Reader(read_log(text.splitlines())).read()
