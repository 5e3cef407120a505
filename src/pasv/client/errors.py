"""Typed client errors: each carries the reply (if any) and says whether a retry may help."""

from __future__ import annotations

import re
import time

from pasv.protocol.replies import Reply

__all__ = [
    "CertificateRejected",
    "ConnectionFailed",
    "DataChannelError",
    "DataStalled",
    "FtpClientError",
    "IntegrityError",
    "LoginFailed",
    "ReplyError",
    "ReplyTimeout",
    "ban_seconds",
    "is_transient_reply",
]

TRANSIENT_CODES = frozenset({421, 425, 426, 450, 451})
# A 530 with one of these words is a busy server or a session limit, not a wrong password.
_BUSY_530 = re.compile(
    r"too many|try again|sessions? from|only \d+|busy|maximum|limit|later", re.IGNORECASE
)
# "421 Too many connection attempts from your address; banned for 15 minutes." (pasv, and
# the customary wording of other servers' anti-hammering): retrying soon only extends a ban.
_BANNED = re.compile(
    r"\b(?:banned|blocked|blacklisted)\b(?:\D{0,20}?(\d+)\s*(second|minute|hour|day)s?)?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def ban_seconds(reply: Reply) -> float | None:
    """How long the reply says this address is banned (0 if it does not say); None: no ban."""
    if reply.code not in (421, 530):  # the codes servers refuse connections and logins with
        return None
    found = _BANNED.search(reply.text)
    if found is None:
        return None
    amount, unit = found.group(1), found.group(2)
    return float(amount) * _UNIT_SECONDS[unit.lower()] if amount and unit else 0.0


def is_transient_reply(reply: Reply) -> bool:
    """True when waiting and trying again may succeed (421, 425, 426, 450, 451, a busy 530).

    A ban is not: the client stops for this run, whatever the code.
    """
    if ban_seconds(reply) is not None:
        return False
    if reply.code in TRANSIENT_CODES:
        return True
    return reply.code == 530 and _BUSY_530.search(reply.text) is not None


def _ban_note(seconds: float, now: float) -> str:
    if not seconds:
        return " (this address is banned; not retrying in this run)"
    ends = time.strftime("%H:%M %Z", time.localtime(now + seconds))
    minutes = max(1, round(seconds / 60))
    return (
        f" (this address is banned; not retrying: the ban ends at about {ends},"
        f" in {minutes} minute{'s' if minutes != 1 else ''})"
    )


class FtpClientError(Exception):
    """Base of every error the client raises; ``transient`` says whether a retry may help.

    ``final`` is set on an error whose retries were already spent (a mirror's file tried
    ``attempts`` times): the session around it is not started again for it.
    """

    transient = False
    final = False


class ReplyError(FtpClientError):
    """The server answered with an error (or unexpected) reply."""

    def __init__(self, command: str, reply: Reply) -> None:
        self.command = command
        self.reply = reply
        self.transient = is_transient_reply(reply)
        banned = ban_seconds(reply)
        self.ban_ends = None if banned is None else time.time() + banned
        shown = " ".join(line.strip() for line in reply.lines if line.strip())
        if banned is not None:
            shown += _ban_note(banned, time.time())
        super().__init__(f"{command}: {reply.code} {shown}" if command else f"{reply.code} {shown}")

    @property
    def banned(self) -> bool:
        """The server banned this address (anti-hammering): no retry in this run."""
        return self.ban_ends is not None

    @property
    def code(self) -> int:
        return self.reply.code


class LoginFailed(ReplyError):
    """USER/PASS was refused."""


class ConnectionFailed(FtpClientError):
    """The control connection could not be made or was lost (reset, timeout, closed by server)."""

    transient = True


class CertificateRejected(ConnectionFailed):
    """The server's TLS certificate did not verify: trying again gets the same certificate."""

    transient = False

    def __init__(self, text: str) -> None:
        super().__init__(f"{text} (trust its CA with --ca FILE, or --insecure for a test server)")


class ReplyTimeout(ConnectionFailed):
    """No reply came within the time allowed (the session is out of step after it)."""


class DataChannelError(FtpClientError):
    """A data connection could not be opened or broke before its transfer finished."""

    transient = True


class DataStalled(DataChannelError):
    """Nothing moved on a data connection for the timeout (``stage``: receiving, sending or
    closing); the connection was reset. "closing" is also a transfer whose data ended but
    whose final reply (226) never came: not confirmed, and the control connection was closed.
    Transient: a retry resumes from (or checks) what the server has."""

    def __init__(self, text: str, stage: str, moved: int) -> None:
        self.stage = stage
        self.moved = moved  # bytes received, or handed to the socket when sending
        super().__init__(text)


class IntegrityError(FtpClientError):
    """The transferred file does not match the server's (size or hash differs)."""
