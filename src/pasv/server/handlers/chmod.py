"""SITE CHMOD: permission bits only (never setuid, setgid or sticky), within the configured mask."""

from __future__ import annotations

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, NotImplementedCommand, PermissionDenied
from pasv.protocol.replies import Reply, make_reply
from pasv.server.language import say
from pasv.server.session import Session

_SPECIAL = ((0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky"))


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def applied_mode(requested: int, mask: int) -> tuple[int, str]:
    """The mode to set for ``requested`` and, when it differs, why (for the reply)."""
    applied = requested & 0o777 & mask
    reasons = []
    special = [name for bit, name in _SPECIAL if requested & bit]
    if special:
        bits = "bit is" if len(special) == 1 else "bits are"
        reasons.append(f"the {_listed(special)} {bits} never set")
    removed = requested & 0o777 & ~mask
    if removed:
        reasons.append(f"the mask {mask:04o} removed {removed:04o}")
    return applied, "; ".join(reasons)


_OCTAL = frozenset("01234567")


async def site_chmod(s: Session, rest: str) -> Reply:
    mode_text, _, name = rest.strip().partition(" ")
    # octal digits only: int() would also take '+644', '0o644', '6_4_4' and '٦٤٤'
    octal = 0 < len(mode_text) <= 5 and set(mode_text) <= _OCTAL
    mode = int(mode_text, 8) if octal else -1
    if not name or not 0 <= mode <= 0o7777:
        raise ArgumentError("Usage: SITE CHMOD <octal mode> <path>, e.g. SITE CHMOD 644 notes.txt.")
    target = s.resolve(name)
    if target == "/":
        raise PermissionDenied("SITE CHMOD cannot change your root directory.")
    s.check(Perm.SITE_CHMOD, target)
    if not s.fs.capabilities_at(target).chmod:  # a virtual folder's storage decides
        raise NotImplementedCommand(
            "SITE CHMOD is not available here: this storage keeps no permission bits."
        )
    applied, why = applied_mode(mode, s.server.settings.server.chmod_mask)
    await s.fs.chmod(target, applied)
    s.server.changed()
    shown = paths.basename(target)
    if not why:
        return make_reply(ReplyCode.OK, say("chmod.done", mode=f"{mode:o}", name=shown))
    text = f"SITE CHMOD {mode_text} {shown}: applied {applied:04o} ({why})."
    return make_reply(ReplyCode.OK, text)
