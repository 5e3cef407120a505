"""SYST, FEAT, OPTS, HELP, NOOP, TYPE, STRU, ALLO, SMNT: the session's settings and help."""

from __future__ import annotations

import os
from dataclasses import replace

from pasv.protocol.codes import ReplyCode
from pasv.protocol.commands import FEATURES, TLS_FEATURES, help_lines, lookup
from pasv.protocol.errors import (
    ArgumentError,
    NotImplementedCommand,
    ParameterNotImplemented,
    PermissionDenied,
)
from pasv.protocol.listing import ALL_MLST_FACTS
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import command
from pasv.server.handlers.modes import opts_mode
from pasv.server.language import LANGUAGES, say, session_language
from pasv.server.session import Session
from pasv.server.setup_warnings import setup_warnings

HASH_ALGORITHMS = ("SHA-256", "SHA-1", "MD5", "CRC32")


@command("SYST")
def syst(s: Session, arg: str) -> Reply:
    return make_reply(ReplyCode.SYSTEM_TYPE, "UNIX Type: L8")


@command("NOOP")
def noop(s: Session, arg: str) -> Reply:
    return make_reply(ReplyCode.OK, "NOOP ok.")


@command("FEAT")
def feat(s: Session, arg: str) -> Reply:
    lines = ["Features:"]
    for feature in FEATURES:
        if feature in TLS_FEATURES and s.server.tls is None:
            continue
        if feature == "MODE Z" and not s.server.settings.modes.deflate:
            continue
        if feature == "CCC" and (not s.server.settings.tls.allow_ccc or s.control.implicit):
            continue
        if feature.startswith("HASH "):
            feature = "HASH " + ";".join(
                a + ("*" if a == s.options.hash_algorithm else "") for a in HASH_ALGORITHMS
            )
        elif feature.startswith("LANG "):
            feature = "LANG " + ";".join(
                _TAGS[lang] + ("*" if lang == s.lang else "") for lang in LANGUAGES
            )
        elif feature.startswith("MLST "):
            feature = "MLST " + "".join(
                f"{f}{'*' if f in s.options.mlst_facts else ''};" for f in _MLST_ORDER
            )
        lines.append(" " + feature)
    lines.append("End")
    return make_reply(ReplyCode.SYSTEM_STATUS, "\n".join(lines))


def opts_utf8(s: Session, value: str) -> Reply:
    """OPTS UTF8 ON keeps a session on UTF-8 (never served in legacy_encoding); OFF, where a
    legacy_encoding is set, serves it in that one."""
    legacy = s.server.settings.server.legacy_encoding
    if value.upper() in ("ON", ""):
        if legacy is None:
            return make_reply(ReplyCode.OK, "UTF8 mode is always on.")
        s.speak(("utf-8",))
        return make_reply(ReplyCode.OK, say("info.utf8_on"))
    if value.upper() != "OFF":
        raise ArgumentError(say("info.utf8_on_or_off", value=value[:20]))
    if legacy is None:
        raise ParameterNotImplemented("UTF8 cannot be turned off; names are UTF-8.")
    s.speak((legacy, "utf-8"))
    return make_reply(ReplyCode.OK, say("info.utf8_off", charset=legacy))


_MLST_ORDER = ("type", "size", "modify", "perm", "unique", "unix.mode")


@command("OPTS")
def opts(s: Session, arg: str) -> Reply:
    option, _, value = arg.strip().partition(" ")
    option = option.upper()
    value = value.strip()
    if option == "UTF8":
        return opts_utf8(s, value)
    if option == "MLST":
        wanted = {f.lower() for f in value.split(";") if f}
        chosen = frozenset(f for f in wanted if f in ALL_MLST_FACTS)
        s.use_options(replace(s.options, mlst_facts=chosen))
        shown = "".join(f"{f};" for f in _MLST_ORDER if f in chosen)
        return make_reply(ReplyCode.OK, f"MLST OPTS {shown}")
    if option == "LANG":
        return set_language(s, value)
    if option == "MODE":
        return opts_mode(s, value)
    if option == "HASH":
        if not value:
            return make_reply(ReplyCode.OK, s.options.hash_algorithm)
        algorithm = value.upper()
        if algorithm not in HASH_ALGORITHMS:
            raise ArgumentError(
                say(
                    "info.unknown_algorithm_value_choose",
                    value=value,
                    v1=", ".join(HASH_ALGORITHMS),
                )
            )
        s.use_options(replace(s.options, hash_algorithm=algorithm))
        return make_reply(ReplyCode.OK, algorithm)
    raise ArgumentError(say("info.unknown_option_option_this", option=option))


_TAGS = {"en": "EN", "zh-Hans": "ZH"}  # as FEAT lists them (RFC 2640)
_TRADITIONAL = frozenset({"zh-tw", "zh-hk", "zh-mo", "zh-hant", "zh-hant-tw", "zh-hant-hk"})


@command("LANG")
def lang(s: Session, arg: str) -> Reply:
    return set_language(s, arg)


def set_language(s: Session, tag: str) -> Reply:
    """RFC 2640: replies from now on in ``tag``'s language; none: back to the default."""
    tag = tag.strip()
    if not tag:
        s.lang = s.server.language
        return make_reply(ReplyCode.OK, say("info.lang_default"))
    found = session_language(tag)
    if found is None:
        if tag.lower() in _TRADITIONAL:
            raise ParameterNotImplemented(say("info.lang_traditional", tag=tag[:20]))
        raise ParameterNotImplemented(say("info.lang_unknown", tag=tag[:20]))
    s.lang = found
    return make_reply(ReplyCode.OK, say("info.lang_set"))


@command("HELP")
def help_(s: Session, arg: str) -> Reply:
    topic = arg.strip().upper()
    if topic:
        spec = lookup(topic)
        if spec is None:
            raise ArgumentError(say("info.unknown_command_v", v1=topic[:20]))
        return make_reply(ReplyCode.HELP, spec.help)
    lines = ["The following commands are recognized:", *help_lines(), "Help OK."]
    return make_reply(ReplyCode.HELP, "\n".join(lines))


@command("TYPE")
def type_(s: Session, arg: str) -> Reply:
    words = arg.upper().split()
    kind = words[0] if words else ""
    if kind == "A" and (len(words) == 1 or words[1] == "N"):
        s.ascii = True
        return make_reply(ReplyCode.OK, "Type set to A.")
    if kind == "I" or (kind == "L" and words[1:] == ["8"]):
        s.ascii = False
        return make_reply(ReplyCode.OK, "Type set to I.")
    if kind in ("A", "E", "L"):
        raise ParameterNotImplemented(say("info.type_v_is_not", v1=arg.strip()))
    raise ArgumentError(say("info.unknown_type_v_use", v1=arg.strip()[:20]))


@command("STRU")
def stru(s: Session, arg: str) -> Reply:
    value = arg.strip().upper()
    if value == "F":
        return make_reply(ReplyCode.OK, "Structure set to F.")
    if value in ("R", "P"):
        raise ParameterNotImplemented(say("info.stru_value_is_not", value=value))
    raise ArgumentError(say("info.unknown_stru_v_use", v1=arg.strip()[:20]))


@command("ALLO")
def allo(s: Session, arg: str) -> Reply:
    """No space to reserve; the size is kept: it proves a TLS upload whole when the client
    ends it without close_notify (docs/reliability.md)."""
    size = arg.strip().split(" ", 1)[0]
    if size.isascii() and size.isdigit() and len(size) < 20:
        s.use_options(replace(s.options, allocated=int(size)))
        return make_reply(
            ReplyCode.NOT_IMPLEMENTED_SUPERFLUOUS,
            f"ALLO not needed: no allocation is required; the next upload is expected to be "
            f"{s.options.allocated} bytes.",
        )
    return make_reply(
        ReplyCode.NOT_IMPLEMENTED_SUPERFLUOUS, "ALLO not needed: no allocation is required."
    )


@command("SMNT")
def smnt(s: Session, arg: str) -> Reply:
    raise NotImplementedCommand("SMNT is not implemented: there is one file system per user.")


def site_warnings(s: Session) -> Reply:
    """SITE WARNINGS: what the server warned about at start, as it stands now (pasv doctor reads
    it: one ` key: text` line per warning). It tells where the setup is weak (clear-text logins,
    serving as root, an open metrics port), so only administrators, the members of the admin
    console's group (``admin.console_group``), may read it."""
    server = s.server
    user = s.user
    group = server.settings.admin.console_group
    if user is None or user.anonymous or group not in server.gate.policy.groups_of(user.name):
        raise PermissionDenied(say("info.warnings_admins_only", group=group))
    cert = server.tls.certificate if server.tls is not None else None
    found = setup_warnings(
        server.settings,
        server.gate.policy,
        as_root=os.geteuid() == 0,
        self_signed=cert is not None and cert.self_signed,
    )
    if not found:
        return make_reply(ReplyCode.OK, "WARNINGS none: nothing to warn about in this setup.")
    lines = [f"WARNINGS {len(found)}:", *(f" {w.key}: {w.text}" for w in found), "End"]
    return make_reply(ReplyCode.OK, "\n".join(lines))
