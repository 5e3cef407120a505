"""A bounded command fuzzer for a live server: every verb pasv knows, with hostile arguments,
out of sequence and pipelined, over a raw control connection (tests/server/test_command_fuzz.py).

Each unit (one to four lines) is checked: every reply is well-formed (helpers.Raw), none is an
internal error, the session answers NOOP after it unless it got a 421, nothing on disk changes
for a unit whose replies are all refusals, and nothing outside the files' root ever changes.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pasv.protocol.commands import COMMANDS
from tests.server import commandfuzz_words as words
from tests.server.helpers import Raw, Reply, read_until_closed
from tests.support.live import LiveServer

DATA = frozenset(name for name, spec in COMMANDS.items() if spec.data)
_UPLOADS = frozenset({"STOR", "APPE", "STOU"})
_PASSIVE = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)|\(\|\|\|(\d+)\|\)")
_INTERNAL = re.compile(r"internal error|traceback|exception|errno|object has no|\.py\b", re.I)

# the tree every unit starts from (recreated when a unit deleted or renamed part of it)
TREE: dict[str, bytes | None] = {
    "a.txt": b"alpha\r\nbeta\n",
    "empty": b"",
    "sub/b.txt": b"b" * 3000,
    "sub/deeper/c.bin": bytes(range(256)),
    "ro/keep.txt": b"read only",
    "secret/plan.txt": b"denied",
    ".htpasswd": b"hidden",
    "private/x": b"hidden dir",
    "caf\u00e9": b"nfc",
    "cafe\u0301": b"nfd",
    "star*[x]": b"glob chars",
    "emptydir": None,
}
OUTSIDE = "outside.txt"  # beside the files' root: no command may reach it


def _verb(line: bytes) -> str:
    return line.split(b" ")[0].strip().upper().decode("latin-1")


def make_tree(root: Path) -> None:
    for rel, content in TREE.items():
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``root``: (mode, size, mtime in ns), links not followed."""
    out: dict[str, tuple[int, int, int]] = {}
    for path in root.rglob("*"):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Fuzzer:
    """One run: a random generator, a live server, and the problems found."""

    live: LiveServer
    rng: random.Random
    line_limit: int
    sent: int = 0
    problems: list[str] = field(default_factory=list)
    raw: Raw | None = None
    passive: tuple[str, int] | None = None
    history: deque[list[bytes]] = field(default_factory=lambda: deque(maxlen=4))

    def _arg(self, verb: str) -> str:
        roll = self.rng.random()
        if verb == "OPTS":
            return self.rng.choice(words.OPTS)
        if verb == "SITE":
            return self.rng.choice(words.SITE)
        if verb in words.ARGS and roll < 0.6:
            return self.rng.choice(words.ARGS[verb])
        if roll < 0.35:
            return self.rng.choice(words.NAMES)
        if roll < 0.9:
            return self.rng.choice(words.HOSTILE)
        return self._long()

    def _long(self) -> str:
        size = self.line_limit + self.rng.choice([-8, -6, -5, -4, -1, 0, 1, 2, 50, 5000])
        return "x" * max(1, size)

    def line(self) -> bytes:
        """One command line with its CRLF, hostile in its bytes as well as its words."""
        verb = self.rng.choice([*COMMANDS, "XYZZY", "SITE", "OPTS", "noop", "Retr"])
        arg = self._arg(verb)
        text = f"{verb} {arg}" if arg or self.rng.random() < 0.3 else verb
        raw = text.encode("utf-8", "surrogateescape")
        roll = self.rng.random()
        if roll < 0.05:
            raw = raw.replace(b" ", b" \xff\xf4\xff\xf2", 1)  # IAC IP, IAC DM
        elif roll < 0.1:
            raw += b"\xc3\x28\xa0\xa1"  # invalid UTF-8
        elif roll < 0.13:
            raw = raw[:2] + b"\r" + raw[2:]  # a bare CR
        elif roll < 0.15:
            raw = b"\xff\xff" + raw  # IAC IAC: a literal 0xFF before the verb
        return raw + (b"\n" if self.rng.random() < 0.1 else b"\r\n")

    def unit(self) -> list[bytes]:
        roll = self.rng.random()
        if roll < 0.2:
            return [(c + "\r\n").encode() for c in self.rng.choice(words.SEQUENCES)]
        if roll < 0.3:  # pipelined: several lines in one write (none of them a transfer)
            lines = [self.line() for _ in range(self.rng.randint(2, 4))]
            return [b"".join(x for x in lines if _verb(x) not in DATA) or b"SYST\r\n"]
        return [self.line()]

    # --- the session

    def session(self) -> Raw:
        if self.raw is None:
            self.raw = Raw.to(self.live)
            self.raw.login()
            self.passive = None
        return self.raw

    def drop(self) -> None:
        if self.raw is not None:
            self.raw.close()
        self.raw = None

    def _data(self) -> socket.socket | None:
        if self.passive is None:
            return None
        with contextlib.suppress(OSError):
            return socket.create_connection(self.passive, timeout=5)
        return None

    def _replies(self, raw: Raw, write: bytes, data: socket.socket | None) -> list[Reply]:
        """The replies to one write: one final reply per line end, 1xx ones before it."""
        verb = _verb(write)
        out: list[Reply] = []
        for _ in range(max(1, write.count(b"\n"))):
            reply = raw.reply()
            out.append(reply)
            if reply.code in (421, 221):  # closing (a QUIT may be inside a pipelined write)
                return out
            if 100 <= reply.code < 200:
                if data is not None and verb in _UPLOADS:
                    data.sendall(b"upload\r\n")
                    data.close()
                elif data is not None:
                    read_until_closed(data)
                out.append(raw.reply())
            if reply.code in (227, 229):
                m = _PASSIVE.search(reply.text)
                if m and m.group(7):
                    self.passive = (self.live.host, int(m.group(7)))
                elif m:
                    self.passive = (self.live.host, int(m.group(5)) * 256 + int(m.group(6)))
        return out

    def run_unit(self, writes: list[bytes]) -> None:
        self.history.append(writes)
        root = self.live.files
        make_tree(root)
        before = snapshot(root)
        raw = self.session()
        got: list[Reply] = []
        for write in writes:
            verb = _verb(write)
            data = self._data() if verb in DATA else None
            try:
                raw.send(write)
                got += self._replies(raw, write, data)
            except (AssertionError, ConnectionError, TimeoutError) as exc:
                if not (got and got[-1].code in (421, 221)):
                    self._problem(writes, got, f"{type(exc).__name__}: {exc}")
                self.drop()
                return
            finally:
                if data is not None:
                    data.close()
            self.sent += max(1, write.count(b"\n"))
            if got and got[-1].code in (421, 221):
                self.drop()
                break
            verbs = {_verb(line) for line in write.split(b"\n")}
            if verbs & {"REIN", "USER", "PASS", "AUTH", "CCC"}:
                self.drop()  # logged out or mid-login: the next unit starts a new session
                break
        for reply in got:
            if _INTERNAL.search(reply.text):
                self._problem(writes, got, "internal error")
        if not any(r.code < 400 and r.code != 350 for r in got) and snapshot(root) != before:
            self._problem(writes, got, "disk changed on refusal")
        if self.raw is not None:
            try:
                if self.raw.cmd("NOOP").code != 200:
                    self._problem(writes, got, "NOOP after it was not 200")
            except (AssertionError, ConnectionError, TimeoutError) as exc:
                self._problem(writes, got, f"NOOP after it failed: {exc}")
                self.drop()

    def _problem(self, writes: list[bytes], got: list[Reply], what: str) -> None:
        shown = [f"{r.code} {r.text[:200]}" for r in got]
        before = [[w[:60] for w in unit] for unit in list(self.history)[:-1]]
        self.problems.append(
            f"{what}: sent {[(w[:120], len(w)) for w in writes]!r} got {shown} (after {before!r})"
        )


class _Errors(logging.Handler):
    """Collects what the server logs at ERROR (an unexpected exception in a handler)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@contextlib.contextmanager
def server_errors() -> Iterator[list[str]]:
    handler = _Errors()
    logger = logging.getLogger("pasv")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def fuzz(live: LiveServer, start: int, commands: int, seconds: float) -> Fuzzer:
    """Run units until ``commands`` lines were sent or ``seconds`` passed."""
    fuzzer = Fuzzer(live, random.Random(start), live.settings.server.max_line_length)
    deadline = time.monotonic() + seconds
    while fuzzer.sent < commands and time.monotonic() < deadline and len(fuzzer.problems) < 50:
        fuzzer.run_unit(fuzzer.unit())
    fuzzer.drop()
    return fuzzer
