"""Helpers for the loopback server tests: a raw control connection that checks reply framing."""

from __future__ import annotations

import ftplib
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from tests.support.live import PASSWORD, USER, LiveServer

_FIRST = re.compile(r"(\d{3})([ -])(.*)", re.DOTALL)
WAIT = 5.0  # seconds any single expected event may take before a test fails
BIG = 64 * 1024 * 1024  # a download that cannot finish while the client does not read
SMALL_RCVBUF = 32 * 1024  # client receive buffer for such downloads


@dataclass(frozen=True)
class Reply:
    code: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Raw:
    """A control connection over a plain socket; every reply is checked against RFC 959 framing."""

    def __init__(self, host: str, port: int, *, source: str | None = None) -> None:
        address = (source, 0) if source else None
        self.sock = socket.create_connection((host, port), timeout=WAIT, source_address=address)
        self._buf = b""
        try:
            self.greeting = self.reply()
        except BaseException:
            self.sock.close()
            raise

    @classmethod
    def to(cls, live: LiveServer) -> Raw:
        return cls(live.host, live.port)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: str) -> Reply:
        self.send(line.encode("utf-8") + b"\r\n")
        return self.reply()

    def login(self, user: str = USER, password: str = PASSWORD) -> None:
        assert self.cmd(f"USER {user}").code == 331
        assert self.cmd(f"PASS {password}").code == 230

    def _line(self) -> str:
        while b"\r\n" not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed; unread: {self._buf!r}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\r\n", 1)
        assert b"\n" not in raw and b"\r" not in raw, f"bare line end in reply line {raw!r}"
        return raw.decode("utf-8")

    def reply(self) -> Reply:
        """Read one reply; fail unless it is a well-formed single or multi-line reply."""
        first = self._line()
        m = _FIRST.fullmatch(first)
        assert m is not None, f"malformed reply line {first!r}"
        code, sep, text = m.groups()
        assert code[0] in "12345", first
        lines = [text]
        if sep == "-":
            while True:
                line = self._line()
                if line.startswith(code + " "):
                    lines.append(line[4:])
                    break
                lines.append(line)
        for line in lines:
            assert "Traceback" not in line, lines
        return Reply(int(code), tuple(lines))

    def wait_closed(self, timeout: float = WAIT) -> bytes:
        """Read until the server closes the connection; return what came before the close."""
        return read_until_closed(self.sock, timeout)

    def quiet_for(self, seconds: float) -> bool:
        """True when nothing at all arrives within ``seconds``."""
        return not self._buf and not readable(self.sock, seconds)


def readable(sock: socket.socket, seconds: float) -> bool:
    """True when data (or the close) arrives on ``sock`` within ``seconds`` (poll: any fd)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(seconds * 1000))


def read_until_closed(sock: socket.socket, timeout: float = WAIT) -> bytes:
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def data_socket(ftp: ftplib.FTP, *, rcvbuf: int | None = None) -> socket.socket:
    """PASV (IPv4) or EPSV (IPv6) through ftplib, then connect before the transfer command."""
    host, port = ftp.makepasv()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(WAIT)
    try:
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def big_file(live: LiveServer, name: str = "big.bin") -> None:
    with open(live.files / name, "wb") as f:
        f.truncate(BIG)  # sparse: costs no disk, still sent in full


def wait_for(condition: Callable[[], object], timeout: float = WAIT, step: float = 0.01) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(step)


def upload_taken(live: LiveServer, at_least: int = 1) -> Callable[[], bool]:
    """Whether the server has taken ``at_least`` bytes of an upload yet. An ABOR sent after the
    data can overtake bytes still in the socket's buffer: wait for this before it."""

    def taken() -> bool:
        transfers = [control.session.transfer for control in list(live.server.sessions)]
        return any(transfer is not None and transfer.done >= at_least for transfer in transfers)

    return taken


def retr_bytes(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    chunks: list[bytes] = []
    ftp.retrbinary(f"RETR {name}", chunks.append, rest=rest)
    return b"".join(chunks)


def retr_ascii(ftp: ftplib.FTP, name: str) -> bytes:
    """The raw wire bytes of a TYPE A download (ftplib's retrlines would hide the line ends)."""
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd(f"RETR {name}") as conn:
        data = read_until_closed(conn)
    ftp.voidresp()
    return data


def send_until_stopped(ftp: ftplib.FTP, conn: socket.socket, data: bytes) -> str:
    """Send an upload's ``data`` on its data connection (the server may stop it at a limit
    and close it), close it, and return the transfer's final reply."""
    try:
        conn.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # stopped at the limit
    finally:
        conn.close()
    return ftp.getline()


def code_of(exc: ftplib.Error) -> int:
    return int(str(exc)[:3])


def big_download_started(live: LiveServer) -> tuple[ftplib.FTP, socket.socket]:
    """A logged-in client whose RETR of a file too big to finish is under way (150 seen, the
    first bytes read, the client not reading on: the server is mid-transfer)."""
    big_file(live)
    ftp = live.login()
    conn = data_socket(ftp, rcvbuf=SMALL_RCVBUF)
    try:
        assert ftp.sendcmd("RETR big.bin").startswith("150")
        assert conn.recv(65536)
    except BaseException:
        conn.close()
        raise
    return ftp, conn
