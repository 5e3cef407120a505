"""Scripted servers for what real servers will not do on demand: busy replies, broken passive."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from pasv.protocol.addresses import format_227, format_port_argument

BUSY = "421 Too many users - please try again later."


class _Threaded:
    """A loopback TCP server in a thread, each connection served by ``_session``; a context
    manager that starts and stops it."""

    def __init__(self) -> None:
        script = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                script._session(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    def _session(self, conn: socketserver.StreamRequestHandler) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class ScriptedFtp(_Threaded):
    """A tiny FTP server: ``busy`` connections get 421, then logins answer ``pass_reply``."""

    def __init__(self, busy: int = 0, pass_replies: tuple[str, ...] = ("230 Logged in.",)) -> None:
        self.busy = busy
        self.pass_replies = list(pass_replies)
        self.connections = 0
        self.commands: list[str] = []
        self._lock = threading.Lock()
        super().__init__()

    def _answer(self, verb: str, arg: str) -> str:
        if verb == "USER":
            return "331 Password please."
        if verb == "PASS":
            with self._lock:
                return (
                    self.pass_replies.pop(0) if len(self.pass_replies) > 1 else self.pass_replies[0]
                )
        if verb == "FEAT":
            return "211-Features:\r\n UTF8\r\n211 End"
        if verb in ("OPTS", "TYPE"):
            return "200 OK."
        if verb == "MKD":
            return f'257 "{arg}" created.'
        if verb == "RMD":
            return "550 No such directory."
        if verb == "QUIT":
            return "221 Bye."
        return "502 Not implemented here."

    def _session(self, conn: socketserver.StreamRequestHandler) -> None:
        with self._lock:
            self.connections += 1
            refuse = self.connections <= self.busy
        if refuse:
            conn.wfile.write(f"{BUSY}\r\n".encode())
            return
        conn.wfile.write(b"220 Scripted server ready.\r\n")
        for _ in range(100):
            line = conn.rfile.readline().decode().rstrip("\r\n")
            if not line:
                return
            verb, _, arg = line.partition(" ")
            self.commands.append(verb.upper())
            conn.wfile.write(f"{self._answer(verb.upper(), arg)}\r\n".encode())
            if verb.upper() == "QUIT":
                return


@contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


class LineProxy:
    """A control-connection proxy in front of a real server; subclasses rewrite lines.

    ``command`` returns the line to pass upstream, or None to end the session there.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def command(self, line: bytes, client: asyncio.StreamWriter) -> bytes | None:
        return line

    def reply(self, line: bytes) -> bytes:
        return line

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upward: bool,
        other: asyncio.StreamWriter,
    ) -> None:  # fmt: skip
        try:
            while line := await reader.readline():
                out = self.command(line, other) if upward else self.reply(line)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            other.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(
            self._pump(reader, up_writer, True, writer),
            self._pump(up_reader, writer, False, up_writer),
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


class DataBreaker(LineProxy):
    """A control-connection proxy that points one data mode at a port where nothing listens.

    ``breaks="passive"`` rewrites 227/229 replies: a server whose passive ports a firewall
    blocks (active still works: the server connects to the client directly).
    ``breaks="active"`` rewrites PORT/EPRT commands: a client whose active port is blocked.
    """

    def __init__(self, upstream: tuple[str, int], refused_port: int, breaks: str) -> None:
        super().__init__(upstream)
        self.breaks = breaks
        self.refused_port = refused_port

    def command(self, line: bytes, client: asyncio.StreamWriter) -> bytes | None:
        if self.breaks == "active" and line.startswith(b"PORT "):
            return f"PORT {format_port_argument('127.0.0.1', self.refused_port)}\r\n".encode()
        if self.breaks == "active" and line.startswith(b"EPRT "):
            return f"EPRT |1|127.0.0.1|{self.refused_port}|\r\n".encode()
        return line

    def reply(self, line: bytes) -> bytes:
        if self.breaks != "passive":
            return line
        if line.startswith(b"229 "):
            return f"229 Entering Extended Passive Mode (|||{self.refused_port}|)\r\n".encode()
        if line.startswith(b"227 "):
            return f"227 {format_227('127.0.0.1', self.refused_port)}\r\n".encode()
        return line


class SessionKiller(LineProxy):
    """Ends sessions the way vsftpd does when it cannot bind a passive port.

    The ``at``-th, ``at``+``every``-th … EPSV of all sessions (``times`` of them at most) gets
    ``500 OOPS: vsf_sysutil_bind`` and the connection is closed, as vsftpd's die() does.
    """

    def __init__(self, upstream: tuple[str, int], at: int, every: int = 0, times: int = 1) -> None:
        super().__init__(upstream)
        self.at = at
        self.every = every
        self.times = times
        self.seen = 0
        self.killed = 0

    def command(self, line: bytes, client: asyncio.StreamWriter) -> bytes | None:
        if line.upper().startswith(b"EPSV"):
            self.seen += 1
            n = self.seen - self.at
            due = n == 0 or (self.every and n > 0 and n % self.every == 0)
            if due and self.killed < self.times:
                self.killed += 1
                client.write(b"500 OOPS: vsf_sysutil_bind\r\n")
                return None
        return line


class HashLiar(LineProxy):
    """Answers HASH with another digest: a server whose copy differs from what it sent."""

    def reply(self, line: bytes) -> bytes:
        parts = line.split(b" ", 4)  # 213 SHA-256 0-5 <hex> <path>
        if len(parts) == 5 and parts[0] == b"213" and parts[1] == b"SHA-256":
            parts[3] = b"0" * 64
            return b" ".join(parts)
        return line


@contextmanager
def in_thread(proxy: LineProxy) -> Iterator[LineProxy]:
    """Run ``proxy`` on an event loop of its own, for tests that drive the blocking CLI."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="proxy", daemon=True)
    thread.start()

    async def stop() -> None:
        await proxy.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


class AbortsOnce(LineProxy):
    """Turns the first ``times`` transfer completions (226) into ``426 … transfer aborted``."""

    def __init__(self, upstream: tuple[str, int], times: int = 1) -> None:
        super().__init__(upstream)
        self.times = times

    def reply(self, line: bytes) -> bytes:
        if line.startswith(b"226 ") and self.times > 0:
            self.times -= 1
            return b"426 Connection closed; transfer aborted.\r\n"
        return line


class HostileListing(_Threaded):
    """A server whose MLSD of every directory lists ``names`` (paths among them, as a hostile
    or broken server might): each listed file holds ``CONTENT``, passive data connections."""

    CONTENT = b"owned\n"

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.retrieved: list[str] = []
        super().__init__()

    def _listing(self) -> bytes:
        size = len(self.CONTENT)
        lines = [f"type=file;size={size};modify=20240102030405; {name}" for name in self.names]
        return "".join(line + "\r\n" for line in lines).encode()

    def _send(
        self, conn: socketserver.StreamRequestHandler, listener: socket.socket, data: bytes
    ) -> None:
        conn.wfile.write(b"150 Here it comes.\r\n")
        data_sock, _ = listener.accept()
        with data_sock:
            data_sock.sendall(data)
        listener.close()
        conn.wfile.write(b"226 Done.\r\n")

    def _session(self, conn: socketserver.StreamRequestHandler) -> None:
        conn.wfile.write(b"220 Hostile server ready.\r\n")
        listener: socket.socket | None = None
        size = len(self.CONTENT)
        replies = {
            "USER": "331 Password please.",
            "PASS": "230 Logged in.",
            "FEAT": "211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n UTF8\r\n211 End",
            "PWD": '257 "/" is the current directory.',
            "QUIT": "221 Bye.",
        }
        for _ in range(200):
            line = conn.rfile.readline().decode().rstrip("\r\n")
            if not line:
                return
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb in ("EPSV", "PASV"):
                listener = socket.create_server(("127.0.0.1", 0))
                port = listener.getsockname()[1]
                reply = (
                    f"229 Entering Extended Passive Mode (|||{port}|)"
                    if verb == "EPSV"
                    else "227 " + format_227("127.0.0.1", port)
                )
                conn.wfile.write(f"{reply}\r\n".encode())
            elif verb == "MLSD" and listener is not None:
                self._send(conn, listener, self._listing())
                listener = None
            elif verb == "RETR" and listener is not None:
                self.retrieved.append(arg)
                self._send(conn, listener, self.CONTENT)
                listener = None
            elif verb == "SIZE":
                conn.wfile.write(f"213 {size}\r\n".encode())
            elif verb == "MDTM":
                conn.wfile.write(b"213 20240102030405\r\n")
            else:
                answer = replies.get(verb, "200 OK.")
                conn.wfile.write(f"{answer}\r\n".encode())
                if verb == "QUIT":
                    return
