"""SITE and its subcommands: HELP, CHMOD, UTIME, QUOTA, RATIO, PASVINFO, WARNINGS."""

from __future__ import annotations

import re

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.codes import ReplyCode
from pasv.protocol.commands import SITE_COMMANDS
from pasv.protocol.errors import ArgumentError
from pasv.protocol.listing import format_timeval
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import account, chmod, command, data, files, info
from pasv.server.language import say
from pasv.server.session import Session

_NOT_HERE = " [not available on this storage]"
_STAMP = re.compile(r"\d{14}|\d{12}")  # YYYYMMDDhhmmss, or YYYYMMDDhhmm (ProFTPD accepts it)
_UTIME_USAGE = (
    "Usage: SITE UTIME <YYYYMMDDhhmmss> <path>, or SITE UTIME <path> <atime> <mtime> <ctime> UTC "
    "(times in UTC)."
)


@command("SITE")
async def site(s: Session, arg: str) -> Reply:
    verb, _, rest = arg.strip().partition(" ")
    verb = verb.upper()
    if verb == "HELP":
        return site_help(s)
    if verb == "CHMOD":
        return await chmod.site_chmod(s, rest)
    if verb == "UTIME":
        return await site_utime(s, rest)
    if verb == "WARNINGS":
        return info.site_warnings(s)
    if verb == "QUOTA":
        return await account.site_quota(s)
    if verb == "RATIO":
        return await account.site_ratio(s)
    if verb == "PASVINFO":
        return data.site_pasvinfo(s)
    raise ArgumentError(say("site.unknown_site_command_v", v1=verb[:20]))


def site_help(s: Session) -> Reply:
    """Every SITE subcommand, those this storage cannot do marked so (and those only some
    virtual folders cannot do: the whole tree lacks it, the home has it)."""
    whole, home = s.fs.capabilities, s.fs.capabilities_at("/")
    marks = {}
    for name, everywhere, at_home in (
        ("CHMOD", whole.chmod, home.chmod),
        ("UTIME", whole.set_mtime, home.set_mtime),
    ):
        if not everywhere:
            marks[name] = " [not available in some folders]" if at_home else _NOT_HERE
    lines = ["SITE commands:"]
    for name, text in SITE_COMMANDS.items():
        lines.append(f" {text}{marks.get(name, '')}")
    lines.append("End")
    return make_reply(ReplyCode.HELP, "\n".join(lines))


def utime_arguments(rest: str) -> tuple[str, str]:
    """The path and the modification time stamp of either SITE UTIME form.

    ``<stamp> <path>`` (ProFTPD's and lftp's two-argument form), ``<path> <stamp>`` and
    ``<path> <atime> <mtime> <ctime> UTC`` (the five-argument form FileZilla and lftp send).
    """
    words = rest.strip().split(" ")
    if (
        len(words) >= 5
        and words[-1].upper() == "UTC"
        and all(_STAMP.fullmatch(w) for w in words[-4:-1])
    ):
        return " ".join(words[:-4]), words[-3]
    if len(words) >= 2 and _STAMP.fullmatch(words[0]):
        return " ".join(words[1:]), words[0]
    if len(words) >= 2 and _STAMP.fullmatch(words[-1]):
        return " ".join(words[:-1]), words[-1]
    raise ArgumentError(_UTIME_USAGE)


async def site_utime(s: Session, rest: str) -> Reply:
    name, stamp = utime_arguments(rest)
    if not name.strip():
        raise ArgumentError(_UTIME_USAGE)
    when = files.parse_time(stamp.ljust(14, "0"))
    target, stored = await files.set_mtime(s, name, when, Perm.SITE_UTIME, "SITE UTIME")
    shown = paths.basename(target) or target
    return make_reply(ReplyCode.OK, say("site.utime_done", name=shown, time=format_timeval(stored)))
