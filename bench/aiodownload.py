"""Many downloads in one process on one event loop: the client of the concurrent measure.

Threads were the first client here, and they measured themselves: each `Thread.start` and each
wake-up waits for the GIL, which the clients already downloading keep busy, so the faster a
server fed the first clients, the later the last ones began (up to 0.5 s of a 0.6 s run). On one
event loop nothing waits for a lock: every client begins at the same instant and the bytes go
from the socket into one reused buffer with `recv_into`, as in the other measures.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from bench.ftpclient import EPSV_RE, MIB, require_loopback

Result = dict[str, Any]
# A client waits for the server to speak first; with a full listen queue the kernel may finish
# the handshake with a SYN cookie and then drop it, and the client waits for a 220 for ever.
GREETING_TIMEOUT = 10.0
SESSION_TIMEOUT = 60.0


class _Control:
    """One control connection: commands out, replies in, on the running loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, host: str) -> None:
        self.loop, self.sock, self.host, self.buf = loop, sock, host, b""

    async def _line(self) -> bytes:
        while (i := self.buf.find(b"\n")) < 0:
            chunk = await self.loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise ConnectionError("control connection closed by server")
            self.buf += chunk
        line, self.buf = self.buf[: i + 1], self.buf[i + 1 :]
        return line.rstrip(b"\r\n")

    async def reply(self, *expect: int) -> bytes:
        first = await self._line()
        text = first
        if first[3:4] == b"-":
            end = first[:3] + b" "
            while not (line := await self._line()).startswith(end):
                text += b"\n" + line
        if expect and int(first[:3]) not in expect:
            raise ConnectionError(f"unexpected reply {first[:80]!r}")
        return text

    async def cmd(self, line: str, *expect: int) -> bytes:
        await self.loop.sock_sendall(self.sock, line.encode() + b"\r\n")
        return await self.reply(*expect)


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def login(c: _Control, user: str, pw: str) -> None:
    """USER/PASS (PASS only when asked for), then TYPE I."""
    if (await c.cmd(f"USER {user}", 230, 331))[:3] == b"331":
        await c.cmd(f"PASS {pw}", 230)
    await c.cmd("TYPE I", 200)


async def retr(c: _Control, name: str, size: int, buf: memoryview) -> int:
    """EPSV, connect, RETR into `buf` to the end, 226: the bytes received (all of the file, or
    an error)."""
    m = EPSV_RE.search((await c.cmd("EPSV", 229)).decode("latin-1"))
    if m is None:
        raise ConnectionError("EPSV reply without a port")
    data = await _connect(c.loop, c.host, int(m.group(2)))
    try:
        await c.cmd(f"RETR {name}", 125, 150)
        n = 0
        while got := await c.loop.sock_recv_into(data, buf):
            n += got
    finally:
        data.close()
    await c.reply(226, 250)
    if n != size:
        raise ValueError(f"short read {n} of {size}")
    return n


async def _session(c: _Control, args: tuple[str, str, str, int], buf: memoryview) -> int:
    """Log in, RETR into `buf` to the end, 226, QUIT: the bytes received."""
    user, pw, name, size = args
    await login(c, user, pw)
    n = await retr(c, name, size, buf)
    await c.cmd("QUIT")
    return n


async def download(
    host: str, port: int, user: str, pw: str, name: str, size: int, buf: memoryview
) -> Result:
    """One client: connect and wait for the greeting, then `_session`, each with a time bound."""
    loop = asyncio.get_running_loop()
    out: Result = {"start": time.monotonic(), "bytes": 0, "count": 0, "failures": 0, "errors": []}
    ctrl: socket.socket | None = None
    step = "greeting"
    try:
        async with asyncio.timeout(GREETING_TIMEOUT):
            ctrl = await _connect(loop, host, port)
            c = _Control(loop, ctrl, host)
            await c.reply(220)
        step = "session"
        async with asyncio.timeout(SESSION_TIMEOUT):
            out["bytes"] = await _session(c, (user, pw, name, size), buf)
        out["count"] = 1
    except TimeoutError:
        out["failures"] = 1
        out["errors"] = [
            f"no 220 greeting within {GREETING_TIMEOUT:g} s of connecting (a full listen queue?)"
            if step == "greeting"
            else f"session not done within {SESSION_TIMEOUT:g} s"
        ]
    except Exception as e:
        out["failures"] = 1
        out["errors"] = [f"{type(e).__name__}: {e}"]
    finally:
        if ctrl is not None:
            ctrl.close()
    out["end"] = time.monotonic()
    return out


Target = tuple[str, int, str, str, str, int]  # host, port, user, password, file name, size


async def _many(args: Target, clients: int, start_at: float) -> list[Result]:
    buf = memoryview(bytearray(MIB))  # every client reads into the same buffer, as one would
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    return list(await asyncio.gather(*(download(*args, buf) for _ in range(clients))))


def run_downloads(args: Target, clients: int, start_at: float) -> list[Result]:
    """`clients` concurrent downloads on one loop (uvloop when installed), all from `start_at`."""
    require_loopback(args[0])
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_many(args, clients, start_at))
    return uvloop.run(_many(args, clients, start_at))
