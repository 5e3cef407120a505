"""A load balancer's health check: the greeting says whether a node takes new sessions (220) or
refuses them (421: draining, as every new connection is answered while it drains, or full)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
from dataclasses import dataclass

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ProtocolViolation
from pasv.protocol.proxyheader import encode_v2
from pasv.protocol.replies import ReplyParser


class Health(enum.IntEnum):
    """The answer, as the exit status of `pasv health`."""

    READY = 0
    REFUSING = 1  # 421: draining for shutdown, too many users, ...
    DOWN = 2


@dataclass(frozen=True, slots=True)
class HealthReport:
    health: Health
    detail: str  # the greeting, or why there was none


async def check_health(
    host: str, port: int, timeout: float, *, proxy_header: bool = False
) -> HealthReport:
    """Connect, read the greeting, leave. ``proxy_header`` sends a PROXY v2 LOCAL header first,
    as a checker on a balancer must when the node expects one from that address."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as exc:
        return HealthReport(Health.DOWN, f"cannot connect to {host} port {port}: {_why(exc)}")
    try:
        if proxy_header:
            writer.write(encode_v2(None))
        parser = ReplyParser()
        async with asyncio.timeout(timeout):
            while True:
                data = await reader.read(4096)
                if not data:
                    return HealthReport(Health.DOWN, "the connection closed before a greeting")
                replies = parser.feed(data)
                if replies:
                    break
        greeting = replies[0]
        text = f"{greeting.code} {greeting.text}"
        if greeting.code == ReplyCode.SERVICE_READY:
            writer.write(b"QUIT\r\n")
            return HealthReport(Health.READY, text)
        if greeting.code == ReplyCode.SERVICE_UNAVAILABLE:
            return HealthReport(Health.REFUSING, text)
        return HealthReport(Health.DOWN, f"unexpected greeting: {text}")
    except (OSError, TimeoutError, ProtocolViolation) as exc:
        return HealthReport(Health.DOWN, f"no greeting from {host} port {port}: {_why(exc)}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__
