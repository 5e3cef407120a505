"""MODE S/Z/B and OPTS MODE Z: the transfer mode of the session's next data connections."""

from __future__ import annotations

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, ParameterNotImplemented
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import command
from pasv.server.session import Session


@command("MODE")
def mode(s: Session, arg: str) -> Reply:
    value = arg.strip().upper()
    modes = s.server.settings.modes
    if value == "S":
        s.mode = "S"
        return make_reply(ReplyCode.OK, "Mode set to S.")
    if value == "Z":
        if not modes.deflate:
            raise ParameterNotImplemented("MODE Z is turned off on this server; use MODE S.")
        s.mode = "Z"
        return make_reply(ReplyCode.OK, f"Mode set to Z (deflate, level {s.mode_level}).")
    if value == "B":
        if not modes.block:
            raise ParameterNotImplemented("MODE B is turned off on this server; use MODE S.")
        s.mode = "B"
        return make_reply(ReplyCode.OK, "Mode set to B (blocks with restart markers).")
    if value == "C":
        raise ParameterNotImplemented(
            "MODE C (compressed, RFC 959) is not supported: no client or server in use "
            "implements it; use MODE Z for compression."
        )
    raise ArgumentError(f"Unknown MODE {arg.strip()[:20]}; use S, Z or B.")


def opts_mode(s: Session, value: str) -> Reply:
    """OPTS MODE Z [LEVEL <0-9>] (draft-preston-ftpext-deflate): the compression level."""
    words = value.upper().split()
    if not words or words[0] != "Z":
        raise ArgumentError("OPTS MODE takes Z and its options, e.g. OPTS MODE Z LEVEL 6.")
    if not s.server.settings.modes.deflate:
        raise ParameterNotImplemented("MODE Z is turned off on this server.")
    options = words[1:]
    if not options:
        return make_reply(ReplyCode.OK, f"MODE Z LEVEL {s.mode_level}")
    if len(options) != 2 or options[0] != "LEVEL":
        raise ArgumentError(
            f"Unknown MODE Z option {' '.join(options)[:30]}; this server knows LEVEL <0-9>."
        )
    if not options[1].isdigit() or not 0 <= int(options[1]) <= 9:
        raise ArgumentError(f"MODE Z LEVEL must be 0 to 9, not {options[1][:10]}.")
    s.mode_level = int(options[1])
    return make_reply(ReplyCode.OK, f"MODE Z LEVEL set to {s.mode_level}.")
