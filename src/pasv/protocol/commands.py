"""The command table: every verb we know, its argument rule, and its HELP text."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Arg(enum.Enum):
    """Whether a command takes an argument."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One FTP verb: how it is called and what the server checks before its handler runs."""

    name: str
    arg: Arg
    syntax: str
    needs_login: bool = True
    data: bool = False
    during_transfer: bool = False
    alias_of: str | None = None

    @property
    def help(self) -> str:
        return f"Syntax: {self.syntax}"


def _spec(name: str, arg: Arg, syntax: str, **kw: object) -> CommandSpec:
    return CommandSpec(name, arg, f"{name} {syntax}".strip(), **kw)  # type: ignore[arg-type]


_A, _R, _O = Arg.NONE, Arg.REQUIRED, Arg.OPTIONAL

_TABLE: tuple[CommandSpec, ...] = (
    _spec("ABOR", _A, "(abort transfer)", needs_login=False, during_transfer=True),
    _spec("ACCT", _R, "<account>", needs_login=False),
    _spec("ALLO", _R, "<bytes> (allocate storage; not needed here)"),
    _spec("APPE", _R, "<file> (append to file)", data=True),
    _spec("AUTH", _R, "TLS|SSL (secure the control connection)", needs_login=False),
    _spec("AVBL", _O, "[<dir>] (bytes you may still store)"),
    _spec("CCC", _A, "(clear command channel: TLS ends, the session goes on in clear)"),
    _spec("CDUP", _A, "(go to parent directory)"),
    _spec("CWD", _R, "<dir> (change working directory)"),
    _spec("DELE", _R, "<file> (delete file)"),
    _spec("EPRT", _R, "|proto|addr|port| (extended active mode)"),
    _spec("EPSV", _O, "[1|2|ALL] (extended passive mode)"),
    _spec("FEAT", _A, "(list extensions)", needs_login=False),
    _spec("HASH", _R, "<file> (file checksum, see OPTS HASH)"),
    _spec("HELP", _O, "[<command>]", needs_login=False),
    _spec("HOST", _R, "<hostname> (virtual host, before login)", needs_login=False),
    _spec("LANG", _O, "[EN|ZH] (language of the replies, RFC 2640)", needs_login=False),
    _spec("LIST", _O, "[<path>] (ls -l style listing)", data=True),
    _spec("MDTM", _R, "<file> (modification time)"),
    _spec("MFMT", _R, "<YYYYMMDDHHMMSS> <file> (set modification time)"),
    _spec("MKD", _R, "<dir> (make directory)"),
    _spec("MLSD", _O, "[<dir>] (machine listing of a directory)", data=True),
    _spec("MLST", _O, "[<path>] (machine facts of one entry)"),
    _spec("MODE", _R, "S|Z|B (stream, deflate, block)", needs_login=False),
    _spec("NLST", _O, "[<path>] (names only)", data=True),
    _spec("NOOP", _A, "(no operation)", needs_login=False),
    _spec("OPTS", _R, "<option> [<value>] (UTF8, MLST, HASH, LANG, MODE Z)", needs_login=False),
    _spec("PASS", _O, "<password>", needs_login=False),
    _spec("PASV", _A, "(passive mode)"),
    _spec("PBSZ", _R, "0 (protection buffer size; always 0 with TLS)", needs_login=False),
    _spec("PORT", _R, "h1,h2,h3,h4,p1,p2 (active mode)"),
    _spec("PROT", _R, "C|P (data connections in clear or private, i.e. TLS)", needs_login=False),
    _spec("PWD", _A, "(print working directory)"),
    _spec("QUIT", _A, "(end the session)", needs_login=False),
    _spec("REIN", _A, "(log out, keep the connection)", needs_login=False),
    _spec("REST", _R, "<offset> (restart a transfer at offset)"),
    _spec("RETR", _R, "<file> (download)", data=True),
    _spec("RMD", _R, "<dir> (remove directory)"),
    _spec("RNFR", _R, "<path> (rename from)"),
    _spec("RNTO", _R, "<path> (rename to)"),
    _spec("SITE", _R, "<HELP|CHMOD|UTIME|QUOTA|RATIO|PASVINFO|WARNINGS> [<args>]"),
    _spec("SIZE", _R, "<file> (file size)"),
    _spec("SMNT", _R, "<path> (not supported)"),
    _spec(
        "STAT",
        _O,
        "[<path>] (session status, or a listing over the control connection)",
        needs_login=False,
        during_transfer=True,
    ),
    _spec("STOR", _R, "<file> (upload)", data=True),
    _spec("STOU", _O, "[<name>] (upload under a unique name)", data=True),
    _spec("STRU", _R, "F (file structure only)", needs_login=False),
    _spec("SYST", _A, "(system type)", needs_login=False),
    _spec("TYPE", _R, "A|I|L 8 (transfer type)", needs_login=False),
    _spec("USER", _R, "<name>", needs_login=False),
)

_ALIASES = {"XCWD": "CWD", "XCUP": "CDUP", "XMKD": "MKD", "XPWD": "PWD", "XRMD": "RMD"}

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in _TABLE}
for _alias, _target in _ALIASES.items():
    _base = COMMANDS[_target]
    COMMANDS[_alias] = CommandSpec(
        _alias,
        _base.arg,
        _base.syntax.replace(_target, _alias, 1),
        _base.needs_login,
        _base.data,
        _base.during_transfer,
        alias_of=_target,
    )

FEATURES: tuple[str, ...] = (
    "AUTH TLS",
    "CCC",
    "AVBL",
    "EPRT",
    "EPSV",
    "HASH SHA-256*;SHA-1;MD5;CRC32",
    "HOST",
    "LANG EN*;ZH",
    "MDTM",
    "MFMT",
    "MLST type*;size*;modify*;perm*;unique*;unix.mode*;",
    "MODE Z",
    "PBSZ",
    "PROT",
    "REST STREAM",
    "SIZE",
    "TVFS",
    "UTF8",
)

# advertised only while the server offers TLS
TLS_FEATURES = frozenset({"AUTH TLS", "CCC", "PBSZ", "PROT"})

SITE_COMMANDS: dict[str, str] = {
    "HELP": "SITE HELP (this list)",
    "CHMOD": "SITE CHMOD <octal mode> <path> (permission bits, within the server's mask)",
    "UTIME": "SITE UTIME <YYYYMMDDhhmmss> <path> | <path> <atime> <mtime> <ctime> UTC "
    "(modification time, UTC)",
    "QUOTA": "SITE QUOTA (your storage allocation and what is left)",
    "RATIO": "SITE RATIO (your upload:download ratio and download credit)",
    "PASVINFO": "SITE PASVINFO (the last 227/229 reply as the server sent it)",
    "WARNINGS": "SITE WARNINGS (what the operator should know about this server's setup)",
}


def lookup(name: str) -> CommandSpec | None:
    """The spec of a verb (case-insensitive), or None when unknown."""
    return COMMANDS.get(name.upper())


def help_lines() -> list[str]:
    """The HELP body: every verb, eight to a line."""
    names = sorted(COMMANDS)
    return [
        " " + " ".join(f"{n:<5}" for n in names[i : i + 8]).rstrip()
        for i in range(0, len(names), 8)
    ]
