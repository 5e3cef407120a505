"""FTPS measures: 1 GiB RETR and STOR with AUTH TLS and PROT P, data sessions resumed."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time

from bench.files import BIG, UPLOAD, Sizes
from bench.ftpclient import MIB, FtpClient, FtpReplyError, drain
from bench.servers import HOST, Server

Result = dict[str, object]


def _context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # every server uses the bench's own self-signed certificate
    return ctx


class FtpsClient(FtpClient):
    """Explicit FTPS: AUTH TLS, then PBSZ 0 / PROT P; each data connection resumes the control
    connection's TLS session (as curl, lftp and FileZilla do)."""

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        super().__init__(host, port, timeout)
        self.context = _context()

    def login(self, user: str, password: str) -> None:
        self.banner()
        self.cmd("AUTH TLS", (234,))
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self._buf = b""
        code, _ = self.cmd(f"USER {user}", (230, 331))
        if code == 331:
            self.cmd(f"PASS {password}", (230,))
        self.cmd("PBSZ 0", (200,))
        self.cmd("PROT P", (200,))
        self.cmd("TYPE I", (200,))

    def _secure(self, data: object) -> ssl.SSLSocket:
        assert isinstance(self.sock, ssl.SSLSocket)
        return self.context.wrap_socket(
            data,  # type: ignore[arg-type]
            server_hostname=self.host,
            session=self.sock.session,
        )

    def drain_data(self, data: socket.socket, buf: bytearray | memoryview) -> int:
        tls = self._secure(data)
        n = drain(tls, buf)
        with contextlib.suppress(OSError):
            tls.unwrap()
        return n

    def stor_file(self, name: str, path: str) -> int:
        """STOR in 1 MiB encrypted writes (sendfile cannot encrypt)."""
        data = self.open_data()
        total = 0
        try:
            self.cmd(f"STOR {name}", (125, 150))
            tls = self._secure(data)
            buf = bytearray(MIB)
            view = memoryview(buf)
            with open(path, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    tls.sendall(view[:n])
                    total += n
            with contextlib.suppress(OSError):
                tls.unwrap()
        finally:
            data.close()
        self.expect_226(f"STOR {name}")
        return total


def _client(srv: Server) -> FtpsClient:
    if not srv.tls_port:
        raise FtpReplyError("AUTH TLS", 0, "FTPS is not set up for this server in the bench")
    c = FtpsClient(HOST, srv.tls_port)
    c.login(srv.user, srv.password)
    return c


def tls_retr(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """RETR of the big file over FTPS (PROT P): throughput."""
    c = _client(srv)
    try:
        buf = bytearray(MIB)
        t0 = time.perf_counter()
        n = c.retr_into(f"RETR {BIG}", buf)
        dt = time.perf_counter() - t0
    finally:
        c.quit()
    if n != sizes.big:
        raise ValueError(f"short RETR: {n} of {sizes.big} bytes")
    return {"value": n / dt, "unit": "B/s"}


def tls_stor(srv: Server, sizes: Sizes, tpl: str) -> Result:
    """STOR of the big file over FTPS (PROT P): throughput."""
    os.sync()  # the same page-cache state for every server (see measures.stor)
    leftover = srv.root / UPLOAD if srv.root is not None else None
    rate = _client(srv).upload_rate(UPLOAD, f"{tpl}/{BIG}", sizes.big, leftover)
    return {"value": rate, "unit": "B/s"}
