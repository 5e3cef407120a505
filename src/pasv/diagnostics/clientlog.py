"""Read a pasted FTP client log into events: what the client did, what the server answered.

Each line is recognised on its own, so logs of several clients (and copies with lost prefixes)
are read alike: FileZilla (English and Chinese UI, with or without its log-file timestamps),
WinSCP, CuteFTP/Serv-U style, lftp `debug`, `curl -v`, Windows `ftp.exe`, Python ftplib debug
output (and its exceptions), and pasv's own `-v`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pasv.client.trace import censor

__all__ = ["Event", "EventKind", "read_log"]

EventKind = Literal["status", "command", "reply", "error"]

# FileZilla, pasv -v: "Status:", "Command:", "Response:", "Error:" (and the Chinese UIs).
_LABELS: dict[str, EventKind] = {
    "status": "status", "狀態": "status", "状态": "status", "trace": "status",
    "command": "command", "命令": "command",
    "response": "reply", "響應": "reply", "响应": "reply", "回應": "reply", "回应": "reply",
    "error": "error", "錯誤": "error", "错误": "error",
}  # fmt: skip
_LABELLED = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[ T][\d:.]+\s+(?:\d+\s+\d+\s+)?)?"  # FileZilla's log-file prefix
    r"(status|command|response|error|trace|狀態|状态|命令|響應|响应|回應|回应|錯誤|错误)"
    r"\s*[:：]>?\s*(.*)$",
    re.IGNORECASE,
)
# WinSCP: ". 2024-05-01 10:00:00.123 Connecting to …", "> … USER x", "< … 331 …", "! …", "* …".
_WINSCP = re.compile(r"^([.<>!*])\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?\s+(.*)$")
_WINSCP_KINDS: dict[str, EventKind] = {
    ".": "status",
    ">": "command",
    "<": "reply",
    "!": "status",
    "*": "error",
}
# lftp debug: "---- Connecting to …", "---> USER x", "<--- 331 …", "**** Socket error …".
_LFTP = re.compile(r"^(----|--->|<---|\*\*\*\*)\s?(.*)$")
_LFTP_KINDS: dict[str, EventKind] = {
    "----": "status",
    "--->": "command",
    "<---": "reply",
    "****": "error",
}
# ftplib debug: "*cmd* 'USER x'", "*resp* '331 …'", "*put* '…\r\n'", "*get* '…\n'".
_FTPLIB = re.compile(r"^\*(cmd|resp|put|get)\*\s+['\"](.*?)(?:\\r)?(?:\\n)?['\"]$")
_FTPLIB_ERROR = re.compile(r"^ftplib\.error_\w+:\s*(\d{3}[ -].*)$")
_PY_ERROR = re.compile(
    r"^(?:\w+\.)*(\w*(Error|Exception|refused|timeout)\w*|timeout):\s*(.*)$", re.IGNORECASE
)
# curl -v: "*   Trying …", "> USER x", "< 331 …", "curl: (7) Failed …".
_CURL = re.compile(r"^([*<>])\s+(.*)$")
_CURL_ERROR = re.compile(r"^curl: \(\d+\)\s*(.*)$")
# Windows ftp.exe: "ftp> open host", "---> USER x" (debug on), "> ftp: connect :Connection …".
_FTP_PROMPT = re.compile(r"^ftp>\s*(.*)$")
_FTP_EXE_ERROR = re.compile(r"^>?\s*ftp:\s*(.*)$")
_REPLY = re.compile(r"^(\d{3})([ -])(.*)$")
_VERBS = frozenset(
    [
        "USER",
        "PASS",
        "ACCT",
        "CWD",
        "CDUP",
        "QUIT",
        "REIN",
        "PORT",
        "PASV",
        "EPRT",
        "EPSV",
        "TYPE",
        "STRU",
        "MODE",
        "RETR",
        "STOR",
        "STOU",
        "APPE",
        "ALLO",
        "REST",
        "RNFR",
        "RNTO",
        "ABOR",
        "DELE",
        "RMD",
        "MKD",
        "PWD",
        "LIST",
        "NLST",
        "MLSD",
        "MLST",
        "SITE",
        "SYST",
        "STAT",
        "HELP",
        "NOOP",
        "FEAT",
        "OPTS",
        "AUTH",
        "PBSZ",
        "PROT",
        "CCC",
        "SIZE",
        "MDTM",
        "MFMT",
        "HOST",
        "CLNT",
        "XPWD",
        "XMKD",
        "XRMD",
    ]
)
_FAILED_STATUS = re.compile(
    r"attempt failed|failed with|refused|timed out|\bE(CONN\w+|TIMEDOUT|HOSTUNREACH|NETUNREACH)\b"
)
_ERROR_WORDS = re.compile(
    r"refused|timed? ?out|failed|failure|error|unreachable|no route|disconnected|reset|"
    r"could not|can'?t|cannot|not connected|waiting for retry|连接失败|連接失敗|連線失敗|超时|逾時",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the log: its line number, who spoke, and what was said."""

    number: int
    kind: EventKind
    text: str

    @property
    def code(self) -> int | None:
        m = _REPLY.match(self.text) if self.kind == "reply" else None
        return int(m.group(1)) if m else None

    @property
    def reply_text(self) -> str:
        m = _REPLY.match(self.text)
        return m.group(3).strip() if m else self.text

    @property
    def final(self) -> bool:
        """A reply's last line ("226 …", not the "226-…" of a multi-line reply)."""
        m = _REPLY.match(self.text)
        return m is not None and m.group(2) == " "

    @property
    def verb(self) -> str:
        return self.text.split(" ", 1)[0].upper() if self.kind == "command" else ""


def _bare(text: str) -> EventKind:
    """A line without any client's prefix: a reply, a command, or a status/error message."""
    if _REPLY.match(text):
        return "reply"
    if text.split(" ", 1)[0].upper() in _VERBS:
        return "command"
    return "error" if _ERROR_WORDS.search(text) else "status"


def _one(line: str) -> tuple[EventKind, str] | None:
    if m := _LABELLED.match(line):
        kind = _LABELS[m.group(1).lower()]
        text = m.group(2).strip()
        if kind == "status" and _FAILED_STATUS.search(text):
            kind = "error"  # FileZilla 3: 'Status: Connection attempt failed with "ECONNREFUSED …'
        return kind, text
    if m := _WINSCP.match(line):
        return _WINSCP_KINDS[m.group(1)], m.group(2).strip()
    if m := _LFTP.match(line):
        kind = _LFTP_KINDS[m.group(1)]
        text = m.group(2).strip()
        return ("error" if kind == "status" and _ERROR_WORDS.search(text) else kind), text
    if m := _FTPLIB.match(line):
        return ("command" if m.group(1) in ("cmd", "put") else "reply"), m.group(2).strip()
    if m := _FTPLIB_ERROR.match(line):
        return "reply", m.group(1).strip()
    if line.startswith("> ftp:") and (m := _FTP_EXE_ERROR.match(line)):
        return "error", m.group(1).strip()
    if m := _CURL_ERROR.match(line):
        return "error", m.group(1).strip()
    if m := _CURL.match(line):
        text = m.group(2).strip()
        if m.group(1) == "<":
            return "reply", text
        if m.group(1) == ">":
            return "command", text
        return ("error" if _ERROR_WORDS.search(text) else "status"), text
    if m := _FTP_PROMPT.match(line):
        return "status", m.group(1).strip()
    if line.startswith("Traceback") or line.startswith("File ") or line.startswith("^"):
        return None  # the frames of a Python traceback say nothing about the session
    if m := _FTP_EXE_ERROR.match(line):
        return "error", m.group(1).strip()
    if _PY_ERROR.match(line):
        return "error", line
    return _bare(line), line


def read_log(lines: Iterable[str]) -> list[Event]:
    """The events of a pasted log, in order; blank and unreadable lines are left out."""
    events: list[Event] = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        found = _one(line)
        if found is not None and found[1]:
            kind, text = found
            if kind == "command" and text.upper().startswith("---> "):
                text = text[5:]
            if kind == "command":
                text = censor(text)  # lftp's debug output shows the password: never repeat it
            events.append(Event(number, kind, text))
    return events
