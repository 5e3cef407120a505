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

from bench.aiodownload import GREETING_TIMEOUT, Target, _connect, _Control, login, retr
from bench.ftpclient import require_loopback

Result = dict[str, Any]
# One transfer of a 4 KiB file never takes this long on a working server.
TRANSFER_TIMEOUT = 10.0


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
            await login(c, user, pw)
        out["start"] = time.monotonic()
        while out["count"] < cap and time.monotonic() < deadline:
            async with asyncio.timeout(TRANSFER_TIMEOUT):
                await retr(c, name, size, buf)
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
