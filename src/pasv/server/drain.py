"""Graceful drain: new sessions get 421 with the reason, running transfers may finish, then stop."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from pasv.config import DrainSection
from pasv.protocol.codes import ReplyCode
from pasv.protocol.replies import Reply, make_reply

if TYPE_CHECKING:
    from pasv.server.app import FtpServer

log = logging.getLogger("pasv.server")

# After the drain time: how long the cut transfers have to send their 426 and the 421.
_GRACE = 5.0


def farewell(reason: str) -> Reply:
    """``421 Service not available, closing control connection. (reason)``"""
    return make_reply(
        ReplyCode.SERVICE_UNAVAILABLE, f"{ReplyCode.SERVICE_UNAVAILABLE.phrase} ({reason})"
    )


async def drain_sessions(
    server: FtpServer, settings: DrainSection, now: asyncio.Event | None = None
) -> int:
    """Refuse new connections with the farewell (the listeners stay open, so a balancer's health
    check sees the 421); end idle sessions at once and the others after their running command;
    after ``settings.timeout`` seconds (or when ``now`` is set) abort the transfers still
    running. Returns how many were aborted."""
    reply = farewell(settings.reason)
    server.draining = reply
    for control in list(server.awaiting_header):
        control.close()
    busy = sum(1 for control in server.sessions if control.current is not None)
    log.warning(
        "draining (%s): new sessions are refused; %d session(s) open, %d with a command "
        "running (given up to %g s to finish)",
        settings.reason,
        len(server.sessions),
        busy,
        settings.timeout,
    )
    for control in list(server.sessions):
        control.drain(reply)
    if not server.sessions:
        return 0
    if await _until_drained(server, settings.timeout, now):
        log.warning("drained: every session ended")
        return 0
    if now is not None and now.is_set():
        reason = "the node was told to stop at once"
    else:
        reason = f"the node is shutting down and its drain time of {settings.timeout:g}s is over"
    cut, left = 0, len(server.sessions)
    for control in list(server.sessions):
        transfer = control.session.transfer
        if transfer is not None:
            transfer.abort(reason)
            cut += 1
    log.warning(
        "drain time over: %d transfer(s) aborted in %d session(s) left (%s)", cut, left, reason
    )
    await _until_drained(server, _GRACE, None)
    return cut


async def _until_drained(server: FtpServer, timeout: float, now: asyncio.Event | None) -> bool:
    """Whether every session ended within ``timeout`` (False as soon as ``now`` is set)."""
    if not server.sessions:
        return True
    waits = [asyncio.ensure_future(server.drained.wait())]
    if now is not None:
        waits.append(asyncio.ensure_future(now.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return not server.sessions
