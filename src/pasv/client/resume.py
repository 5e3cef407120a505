"""Where a transfer may start: only a partial file that cannot be stale is resumed.

A download resumes a shorter local file only when pasv's own record of the interrupted download
(``checkpoint.Part``) names the same remote file with the size and modification time the server
shows now; any other shorter local file is downloaded again from the start. An upload resumes a
shorter remote file unless the local file changed after the server's copy was last written
(its MDTM); a server without MDTM leaves only the size to go by, as curl ``-C -`` does.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from pathlib import Path

from pasv.client import checkpoint
from pasv.client.client import FtpClient
from pasv.client.errors import ReplyError

__all__ = ["download_offset", "remote_mtime", "upload_offset"]

_TIMEVAL = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\.\d{1,9})?", re.ASCII)
CLOCK_SLACK = 1.0  # MDTM shows whole seconds: a file written within this second is not newer


def parse_timeval(text: str) -> float | None:
    """RFC 3659 ``YYYYMMDDHHMMSS[.sss]`` (UTC) as an epoch time; None if it is not one."""
    m = _TIMEVAL.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        stamp = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return stamp + (float(m.group(7)) if m.group(7) else 0.0)


async def remote_mtime(client: FtpClient, path: str) -> float | None:
    """MDTM of ``path``; None when the server does not say."""
    reply = await client.command(f"MDTM {path}")
    if reply.code in (421, 530):
        raise ReplyError("MDTM", reply)
    return parse_timeval(reply.lines[0]) if reply.code == 213 else None


def download_offset(
    local: Path, remote: str, size: int | None, mtime: float | None, say: Callable[[str], None]
) -> int:
    """The byte to resume a download of ``remote`` at (0: from the start)."""
    have = local.stat().st_size if local.is_file() else 0
    if size is None or have == 0:
        return 0
    if have > size:
        say(f"{local} is longer than {remote} on the server; downloading it again.")
        return 0
    part = checkpoint.load_part(local, remote)
    if part is not None:
        if (part.size, part.mtime) != (size, mtime):
            say(f"{remote} changed on the server since the interrupted download; "
                "downloading it again from the start.")  # fmt: skip
            return 0
        if mtime is None:
            say("The server tells no modification time (MDTM); resuming by size.")
        return have
    if have == size and (mtime is None or abs(local.stat().st_mtime - mtime) < CLOCK_SLACK):
        return have  # complete (a finished download has the server's time); verified next
    say(f"{local} is not what an interrupted pasv download of {remote} left; "
        "downloading it from the start.")  # fmt: skip
    return 0


def _size_and_time(path: Path) -> tuple[int, float]:
    """A local file's size and modification time (plain def: local disk is fast)."""
    info = path.stat()
    return info.st_size, info.st_mtime


async def upload_offset(client: FtpClient, local: Path, remote: str, have: int) -> int:
    """The byte to resume an upload at, given that the server has ``have`` bytes of it."""
    size, local_mtime = _size_and_time(local)
    if have == 0 or have > size:
        return 0
    mtime = await remote_mtime(client, remote)
    if mtime is None:
        client.status("The server tells no modification time (MDTM); resuming by size.")
        return have
    if local_mtime > mtime + CLOCK_SLACK:
        client.status(f"{local} changed after the server's {remote} was written; "
                      "uploading it from the start.")  # fmt: skip
        return 0
    return have
