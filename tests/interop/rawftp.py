"""A tiny raw-socket FTP control client: send one line, read one full reply (multi-line too)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

_227 = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")


@dataclass(frozen=True)
class Reply:
    """One server reply: its code and every line as sent (without CRLF)."""

    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class RawFtp:
    """A control connection that records every reply code it reads, in order."""

    host: str
    port: int
    timeout: float = 10.0
    replies: list[Reply] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.file = self.sock.makefile("rb")

    @property
    def codes(self) -> list[int]:
        return [reply.code for reply in self.replies]

    def _line(self) -> str:
        raw = self.file.readline(65536)
        if not raw:
            raise ConnectionError("the server closed the control connection")
        if not raw.endswith(b"\r\n"):
            raise AssertionError(f"reply line not ended by CRLF: {raw!r}")
        return raw[:-2].decode("utf-8")

    def read_reply(self) -> Reply:
        """Read a complete reply: ``123 text`` or ``123-first`` ... ``123 last`` (RFC 959 4.2)."""
        first = self._line()
        if len(first) < 4 or not first[:3].isdigit() or first[3] not in " -":
            raise AssertionError(f"malformed reply line: {first!r}")
        lines = [first]
        if first[3] == "-":
            while True:
                line = self._line()
                lines.append(line)
                if line[:3] == first[:3] and line[3:4] == " ":
                    break
        reply = Reply(int(first[:3]), tuple(lines))
        self.replies.append(reply)
        return reply

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def cmd(self, line: str) -> Reply:
        """Send a command and read its (first) reply."""
        self.send(line)
        return self.read_reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> RawFtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_227(reply: Reply) -> tuple[str, int]:
    """``227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`` -> (host, port)."""
    match = _227.search(reply.text)
    if match is None:
        raise AssertionError(f"no address in {reply.text!r}")
    numbers = [int(n) for n in match.groups()]
    return ".".join(map(str, numbers[:4])), numbers[4] * 256 + numbers[5]


def port_argument(host: str, port: int) -> str:
    """The argument of ``PORT`` for an IPv4 address and port: ``h1,h2,h3,h4,p1,p2``."""
    return ",".join([*host.split("."), str(port // 256), str(port % 256)])


def recv_all(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
