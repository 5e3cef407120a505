"""Minimal fast FTP client over raw sockets, used only on loopback by the benchmarks."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import time
from pathlib import Path

MIB = 1024 * 1024
_PASV_RE = re.compile(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV_RE = re.compile(r"\(([^\d\s])\1\1(\d+)\1\)")


class FtpReplyError(Exception):
    """An FTP reply other than the one expected."""

    def __init__(self, command: str, code: int, text: str) -> None:
        super().__init__(f"{command!r} -> {code} {text}")
        self.code = code
        self.text = text


def require_loopback(host: str) -> None:
    """Refuse any traffic target that is not a loopback address."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"refusing non-loopback target {host}")


def drain(sock: socket.socket, buf: bytearray | memoryview) -> int:
    """Read a socket to EOF into one reused buffer; return the byte count."""
    view = memoryview(buf)
    recv_into = sock.recv_into
    total = 0
    while True:
        n = recv_into(view)
        if not n:
            return total
        total += n


class FtpClient:
    """One control connection: the FTP dialogue plus passive-mode data connections."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        require_loopback(host)
        self.host = host
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = b""
        self.use_epsv = True

    def _line(self) -> bytes:
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line, self._buf = self._buf[: i + 1], self._buf[i + 1 :]
                return line.rstrip(b"\r\n")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("control connection closed by server")
            self._buf += chunk

    def reply(self) -> tuple[int, str]:
        """Read one (possibly multi-line) reply."""
        first = self._line()
        code = int(first[:3])
        lines = [first[4:]]
        if first[3:4] == b"-":
            end = first[:3] + b" "
            while True:
                line = self._line()
                lines.append(line)
                if line.startswith(end):
                    break
        return code, b"\n".join(lines).decode("utf-8", "replace")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def cmd(self, line: str, expect: tuple[int, ...] = ()) -> tuple[int, str]:
        """Send one command and read its reply, checking the code when told."""
        self.send(line)
        code, text = self.reply()
        if expect and code not in expect:
            raise FtpReplyError(line.split(" ")[0], code, text)
        return code, text

    def banner(self) -> None:
        code, text = self.reply()
        if code != 220:
            raise FtpReplyError("banner", code, text)

    def login(self, user: str, password: str) -> None:
        """Read the banner, log in and switch to binary mode."""
        self.banner()
        code, _ = self.cmd(f"USER {user}", (230, 331))
        if code == 331:
            self.cmd(f"PASS {password}", (230,))
        self.cmd("TYPE I", (200,))

    def open_data(self) -> socket.socket:
        """EPSV (or PASV) and connect the data socket, always to our loopback host."""
        port = 0
        if self.use_epsv:
            code, text = self.cmd("EPSV")
            m = EPSV_RE.search(text)
            if code == 229 and m:
                port = int(m.group(2))
            else:
                self.use_epsv = False
        if not port:
            code, text = self.cmd("PASV", (227,))
            m = _PASV_RE.search(text)
            if not m:
                raise FtpReplyError("PASV", code, text)
            port = int(m.group(5)) * 256 + int(m.group(6))
        data = socket.create_connection((self.host, port), timeout=self.timeout)
        return data

    def retr_into(self, command: str, buf: bytearray | memoryview) -> int:
        """RETR/LIST through a passive data connection into a reused buffer."""
        data = self.open_data()
        try:
            self.cmd(command, (125, 150))
            n = self.drain_data(data, buf)
        finally:
            data.close()
        self.expect_226(command)
        return n

    def drain_data(self, data: socket.socket, buf: bytearray | memoryview) -> int:
        """Read one data connection to its end (FTPS overrides this to decrypt)."""
        return drain(data, buf)

    def stor_file(self, name: str, path: str) -> int:
        """STOR a local file with socket.sendfile; return bytes sent."""
        data = self.open_data()
        try:
            self.cmd(f"STOR {name}", (125, 150))
            with open(path, "rb") as f:
                n = data.sendfile(f)
            data.shutdown(socket.SHUT_WR)
        finally:
            data.close()
        self.expect_226(f"STOR {name}")
        return n

    def upload_rate(self, name: str, path: str, size: int, leftover: Path | None) -> float:
        """STOR ``path`` as ``name``, DELE it and QUIT: bytes per second. ``leftover`` (the
        server-side file) is removed whatever happens; a short upload raises ValueError."""
        try:
            t0 = time.perf_counter()
            n = self.stor_file(name, path)
            dt = time.perf_counter() - t0
            self.cmd(f"DELE {name}")
        finally:
            self.quit()
            if leftover is not None:
                leftover.unlink(missing_ok=True)
        if n != size:
            raise ValueError(f"short STOR: {n} of {size} bytes")
        return n / dt

    def expect_226(self, command: str) -> None:
        code, text = self.reply()
        if code not in (226, 250):
            raise FtpReplyError(command, code, text)

    def quit(self) -> None:
        with contextlib.suppress(OSError):
            self.cmd("QUIT")
        self.close()

    def close(self) -> None:
        self.sock.close()
