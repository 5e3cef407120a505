"""Typed client errors: each carries the reply (if any) and says whether a retry may help."""

from __future__ import annotations

import re

from pasv.protocol.replies import Reply

__all__ = [
    "ConnectionFailed",
    "DataChannelError",
    "FtpClientError",
    "IntegrityError",
    "LoginFailed",
    "ReplyError",
    "is_transient_reply",
]

TRANSIENT_CODES = frozenset({421, 425, 426, 450, 451})
# A 530 with one of these words is a busy server or a session limit, not a wrong password.
_BUSY_530 = re.compile(
    r"too many|try again|sessions? from|only \d+|busy|maximum|limit|banned|later", re.IGNORECASE
)


def is_transient_reply(reply: Reply) -> bool:
    """True when waiting and trying again may succeed (421, 425, 426, 450, 451, a busy 530)."""
    if reply.code in TRANSIENT_CODES:
        return True
    return reply.code == 530 and _BUSY_530.search(reply.text) is not None


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
        shown = " ".join(line.strip() for line in reply.lines if line.strip())
        super().__init__(f"{command}: {reply.code} {shown}" if command else f"{reply.code} {shown}")

    @property
    def code(self) -> int:
        return self.reply.code


class LoginFailed(ReplyError):
    """USER/PASS was refused."""


class ConnectionFailed(FtpClientError):
    """The control connection could not be made or was lost (reset, timeout, closed by server)."""

    transient = True


class DataChannelError(FtpClientError):
    """A data connection could not be opened or broke before its transfer finished."""

    transient = True


class IntegrityError(FtpClientError):
    """The transferred file does not match the server's (size or hash differs)."""
