"""Small-file RETR loops on many sessions at once, on one event loop per client process: the
client of the "small files, many sessions" measure.

Each session logs in, says TYPE I once, then repeats EPSV + RETR of the small file + read to the
end + 226 until the deadline (or the cap of transfers). This is what a server of many small
files sees (devices fetching configurations, sync clients checking many files): the server is
kept busy by several sessions, so its cost per transfer is measured without the idle wake-ups
that dominate a single session's loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.aiodownload import GREETING_TIMEOUT, _connect, _Control
from bench.ftpclient import EPSV_RE, require_loopback

Result = dict[str, Any]
# One transfer of a 4 KiB file never takes this long on a working server.
TRANSFER_TIMEOUT = 10.0

Target = tuple[str, int, str, str, str, int]  # host, port, user, password, file name, size


async def _retr(c: _Control, name: str, size: int, buf: memoryview) -> None:
    """EPSV, connect, RETR, read to the end, 226; the whole file or an error."""
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


async def _loop(args: Target, deadline: float, cap: int, buf: memoryview) -> Result:
    """One session's loop; a failure ends that session and is counted."""
    host, port, user, pw, name, size = args
    loop = asyncio.get_running_loop()
    out: Result = {"start": time.monotonic(), "bytes": 0, "count": 0, "failures": 0, "errors": []}
    ctrl = None
    try:
        async with asyncio.timeout(GREETING_TIMEOUT):
            ctrl = await _connect(loop, host, port)
            c = _Control(loop, ctrl, host)
            await c.reply(220)
            if (await c.cmd(f"USER {user}", 230, 331))[:3] == b"331":
                await c.cmd(f"PASS {pw}", 230)
            await c.cmd("TYPE I", 200)
        out["start"] = time.monotonic()
        while out["count"] < cap and time.monotonic() < deadline:
            async with asyncio.timeout(TRANSFER_TIMEOUT):
                await _retr(c, name, size, buf)
            out["count"] += 1
            out["bytes"] += size
        await c.cmd("QUIT")
    except Exception as e:
        out["failures"] = 1
        out["errors"] = [f"{type(e).__name__}: {e}"]
    finally:
        if ctrl is not None:
            ctrl.close()
    out["end"] = time.monotonic()
    return out


async def _many(args: Target, sessions: int, start_at: float, seconds: float, cap: int) -> Any:
    buf = memoryview(bytearray(65536))  # every session reads into the same buffer
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    deadline = time.monotonic() + seconds
    return list(await asyncio.gather(*(_loop(args, deadline, cap, buf) for _ in range(sessions))))


def run_small(
    args: Target, sessions: int, start_at: float, seconds: float, cap: int
) -> list[Result]:
    """`sessions` small-RETR loops on one loop (uvloop when installed), all from `start_at`."""
    require_loopback(args[0])
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_many(args, sessions, start_at, seconds, cap))
    return uvloop.run(_many(args, sessions, start_at, seconds, cap))
