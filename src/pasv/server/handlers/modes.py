"""MODE S/Z/B and OPTS MODE Z: the transfer mode of the session's next data connections."""

from __future__ import annotations

from dataclasses import replace

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, ParameterNotImplemented
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import command
from pasv.server.language import say
from pasv.server.session import Session


@command("MODE")
def mode(s: Session, arg: str) -> Reply:
    value = arg.strip().upper()
    modes = s.server.settings.modes
    if value == "S":
        s.use_options(replace(s.options, mode="S"))
        return make_reply(ReplyCode.OK, "Mode set to S.")
    if value == "Z":
        if not modes.deflate:
            raise ParameterNotImplemented("MODE Z is turned off on this server; use MODE S.")
        s.use_options(replace(s.options, mode="Z"))
        return make_reply(ReplyCode.OK, say("modes.set_z", level=s.deflate_level))
    if value == "B":
        if not modes.block:
            raise ParameterNotImplemented("MODE B is turned off on this server; use MODE S.")
        s.use_options(replace(s.options, mode="B"))
        return make_reply(ReplyCode.OK, "Mode set to B (blocks with restart markers).")
    if value == "C":
        raise ParameterNotImplemented(
            "MODE C (compressed, RFC 959) is not supported: no client or server in use "
            "implements it; use MODE Z for compression."
        )
    raise ArgumentError(say("modes.unknown", mode=arg.strip()[:20]))


def opts_mode(s: Session, value: str) -> Reply:
    """OPTS MODE Z [LEVEL <0-9>] (draft-preston-ftpext-deflate): the compression level."""
    words = value.upper().split()
    if not words or words[0] != "Z":
        raise ArgumentError("OPTS MODE takes Z and its options, e.g. OPTS MODE Z LEVEL 6.")
    if not s.server.settings.modes.deflate:
        raise ParameterNotImplemented("MODE Z is turned off on this server.")
    options = words[1:]
    if not options:
        return make_reply(ReplyCode.OK, f"MODE Z LEVEL {s.deflate_level}")
    if len(options) != 2 or options[0] != "LEVEL":
        raise ArgumentError(say("modes.unknown_option", option=" ".join(options)[:30]))
    if not (options[1].isascii() and options[1].isdigit()) or not 0 <= int(options[1]) <= 9:
        raise ArgumentError(say("modes.level_range", level=options[1][:10]))
    s.use_options(replace(s.options, mode_level=int(options[1])))
    return make_reply(ReplyCode.OK, say("modes.level_set", level=s.deflate_level))
