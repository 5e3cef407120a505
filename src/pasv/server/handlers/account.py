"""AVBL, SITE QUOTA and SITE RATIO: what a user may still store and download."""

from __future__ import annotations

import asyncio
import shutil

from pasv.policy.credits import credit_applies, quota_room
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import NotADirectory
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import command
from pasv.server.language import say
from pasv.server.session import Session


def human(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


@command("AVBL")
async def avbl(s: Session, arg: str) -> Reply:
    target = s.resolve(arg) if arg.strip() else s.cwd
    if (await s.fs.stat(target)).kind != "dir":
        raise NotADirectory(say("account.target_is_not_a", target=target))
    assert s.user is not None
    home = s.home
    free = (await asyncio.to_thread(shutil.disk_usage, home)).free
    if s.settings.quota_bytes:
        usage = await s.server.usage.get(s.user, s.settings, home)
        free = min(free, quota_room(s.settings, usage) or 0)
    return make_reply(ReplyCode.FILE_STATUS, str(free))


async def site_quota(s: Session) -> Reply:
    settings, user = s.settings, s.user
    assert user is not None
    if not settings.quota_bytes and not settings.quota_files:
        return make_reply(ReplyCode.OK, "No storage allocation limit applies to you.")
    usage = await s.server.usage.get(user, settings, s.home)
    parts = []
    if settings.quota_bytes:
        left = quota_room(settings, usage) or 0
        parts.append(
            f"{human(usage.bytes_used)} used of {human(settings.quota_bytes)} ({human(left)} left)"
        )
    if settings.quota_files:
        parts.append(f"{usage.files_used} of {settings.quota_files} files")
    return make_reply(ReplyCode.OK, "Quota: " + "; ".join(parts) + ".")


async def site_ratio(s: Session) -> Reply:
    settings, user = s.settings, s.user
    assert user is not None
    if settings.ratio is None:
        return make_reply(ReplyCode.OK, "No ratio applies to you: downloads are free.")
    if not credit_applies(settings):
        return make_reply(
            ReplyCode.OK, f"Ratio {settings.ratio}, but you are exempt: downloads are free."
        )
    usage = await s.server.usage.get(user, settings, s.home)
    return make_reply(
        ReplyCode.OK,
        f"Ratio {settings.ratio} (upload:download); credit {human(usage.credit)} "
        f"({usage.credit} bytes) for downloads.",
    )
