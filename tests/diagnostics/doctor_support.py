"""Doctor test helpers: run `pasv doctor` as a user would, and a loopback "router" that rewrites
227/229 replies on the way (the FTP ALG of a home router or firewall, on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from pasv.cli.main import app
from tests.support.live import LiveServer

runner = CliRunner()
_SIX = re.compile(rb"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
_EPSV = re.compile(rb"\(\|\|\|(\d+)\|\)")


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port where nothing listens: bound (so nobody else takes it) but not listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@dataclass
class Doctor:
    """One run: exit code, the JSON report, each stage by name."""

    result: Result
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    def stage(self, key: str) -> dict[str, Any]:
        found = [s for s in self.report["stages"] if s["stage"] == key]
        assert found, f"no {key} stage in {[s['stage'] for s in self.report['stages']]}"
        return found[0]

    def statuses(self) -> dict[str, str]:
        return {s["stage"]: s["status"] for s in self.report["stages"]}


def doctor(
    url: str, *args: str, netrc: Path | None = None, env: dict[str, str] | None = None
) -> Doctor:
    """`pasv doctor URL --json ARGS…` (no ~/.netrc unless given, short timeouts)."""
    base = ["doctor", url, "--json", "--lang", "en", "--timeout", "5"]
    netrc_args = ["--netrc-file", str(netrc)] if netrc else ["--netrc-file", "/nonexistent"]
    result = runner.invoke(app, [*base, *netrc_args, *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return Doctor(result, json.loads(result.stdout) if result.stdout.strip() else {})


def url_of(live: LiveServer, user: str = "", password: str = "", scheme: str = "ftp") -> str:
    who = f"{user}:{password}@" if password else f"{user}@" if user else ""
    return f"{scheme}://{who}{live.host}:{live.port}/"


class RewritingRouter:
    """A TCP relay in front of a live server, rewriting the port of every 227 and 229 reply to
    one where nothing listens. ``hide_pasvinfo`` answers SITE PASVINFO itself with 500, as a
    server other than pasv would, so the rewrite cannot be seen: the passive port looks closed."""

    def __init__(self, live: LiveServer, hide_pasvinfo: bool) -> None:
        self.live = live
        self.hide = hide_pasvinfo
        self._holder = socket.socket()
        self._holder.bind(("127.0.0.1", 0))
        self.port_to_announce = int(self._holder.getsockname()[1])
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> RewritingRouter:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._relay, "127.0.0.1", 0)

        self._server = self.live.call(start())
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        self.live.call(stop())
        self._holder.close()

    def url(self, user: str, password: str) -> str:
        return f"ftp://{user}:{password}@127.0.0.1:{self.port}/"

    def _rewrite(self, line: bytes) -> bytes:
        p1, p2 = divmod(self.port_to_announce, 256)
        if line.startswith(b"227 "):
            return _SIX.sub(
                lambda m: b"(" + b",".join([*m.groups()[:4], b"%d" % p1, b"%d" % p2]) + b")", line
            )
        if line.startswith(b"229 "):
            return _EPSV.sub(b"(|||%d|)" % self.port_to_announce, line)
        return line

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.live.host, self.live.port)

        async def replies() -> None:
            while line := await up_reader.readline():
                writer.write(self._rewrite(line))
                await writer.drain()

        async def commands() -> None:
            while line := await reader.readline():
                if self.hide and line.upper().startswith(b"SITE PASVINFO"):
                    writer.write(b"500 Unknown SITE command.\r\n")
                    continue
                up_writer.write(line)
                await up_writer.drain()

        tasks = [asyncio.ensure_future(replies()), asyncio.ensure_future(commands())]
        with contextlib.suppress(OSError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        writer.close()
        up_writer.close()


@contextlib.contextmanager
def one_shot_server(hang_up: bool) -> Iterator[int]:
    """A loopback port that accepts one connection, then hangs up at once or says nothing."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(10)
        accepted: list[socket.socket] = []

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                accepted.append(conn)
                if hang_up:
                    conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            thread.join(10)
            for conn in accepted:
                conn.close()
