"""Policy value types: permissions as named flags, users, groups, rules and IP rules."""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Perm(enum.Flag):
    """What a user may do; named by the FTP command that needs it."""

    NONE = 0
    LIST = enum.auto()
    RETR = enum.auto()
    STOR = enum.auto()
    APPE = enum.auto()
    DELE = enum.auto()
    MKD = enum.auto()
    RMD = enum.auto()
    RENAME = enum.auto()
    MFMT = enum.auto()
    SITE_CHMOD = enum.auto()
    SITE_UTIME = enum.auto()
    SITE = SITE_CHMOD | SITE_UTIME  # every SITE subcommand that changes something
    READ = LIST | RETR
    WRITE = STOR | APPE | DELE | MKD | RMD | RENAME | MFMT
    ALL = READ | WRITE | SITE

    # Members, combinations included, are one object per value (and compare by identity), so
    # the identity hash is consistent; Enum's own hash is Python code run on every hash of a
    # User (the memos of groups and access are keyed by it, at every login).
    __hash__ = object.__hash__

    @classmethod
    def parse(cls, text: str) -> Perm:
        """Parse ``"read,write"`` or ``"LIST RETR STOR SITE_CHMOD"``; RNFR/RNTO name RENAME,
        ``SITE-CHMOD`` is ``SITE_CHMOD`` and ``SITE`` is every SITE subcommand."""
        return _parse_perm(text)

    def describe(self) -> str:
        """Names of the single flags set, e.g. ``"LIST,RETR"``; ``"ALL"`` when all are set."""
        if self == Perm.ALL:
            return "ALL"
        names = [str(flag.name) for flag in self & ~Perm.SITE]
        if Perm.SITE in self:
            names.append("SITE")
        else:
            names.extend(str(flag.name) for flag in self & Perm.SITE)
        return ",".join(names) or "NONE"


@functools.lru_cache(maxsize=256)
def _parse_perm(text: str) -> Perm:
    """Perm.parse, memoised: every login reads a stored permission string."""
    result = Perm.NONE
    for word in text.replace(",", " ").split():
        name = word.strip().upper().replace("-", "_")
        if name in ("RNFR", "RNTO"):
            name = "RENAME"
        try:
            result |= Perm[name]
        except KeyError:
            raise ValueError(f"unknown permission {word!r}") from None
    return result


@dataclass(frozen=True, slots=True)
class User:
    """A logged-in identity: its jail root on disk, what it may do there, and its groups."""

    name: str
    home: str
    perms: Perm
    anonymous: bool = False
    groups: tuple[str, ...] = ()
    # a short fingerprint of the stored password hash the login was checked against ("" for
    # anonymous): a session whose account's password changed since is ended (server/standing)
    credential: str = field(default="", repr=False)


class Action(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class SubjectKind(enum.StrEnum):
    ALL = "all"
    ANONYMOUS = "anonymous"
    GROUP = "group"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Subject:
    """Whom a rule is for: ``*`` everyone, ``?`` anonymous, ``@staff`` a group, ``alice`` a user."""

    kind: SubjectKind
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> Subject:
        text = text.strip()
        if text in ("*", "all", "everyone"):
            return cls(SubjectKind.ALL)
        if text in ("?", "anonymous"):
            return cls(SubjectKind.ANONYMOUS)
        if text.startswith("@") and len(text) > 1:
            return cls(SubjectKind.GROUP, text[1:])
        if not text:
            raise ValueError("empty rule subject")
        return cls(SubjectKind.USER, text)

    def __str__(self) -> str:
        if self.kind is SubjectKind.ALL:
            return "*"
        if self.kind is SubjectKind.ANONYMOUS:
            return "?"
        return f"@{self.name}" if self.kind is SubjectKind.GROUP else self.name


@dataclass(frozen=True, slots=True)
class Rule:
    """An authorization rule: allow or deny ``perms`` on ``path`` (and below) to ``subjects``."""

    action: Action
    subjects: tuple[Subject, ...]
    path: str
    perms: Perm
    id: int = 0

    def describe(self) -> str:
        who = ",".join(str(s) for s in self.subjects)
        number = f"rule {self.id}: " if self.id else ""
        return f"{number}{self.action} {self.perms.describe()} on {self.path} to {who}"


@dataclass(frozen=True, slots=True)
class IpRule:
    """Allow or deny a network; ``scope`` is ``""`` (server-wide, checked at connect),
    ``"user:NAME"`` or ``"group:NAME"`` (checked at login)."""

    action: Action
    network: IpNetwork
    scope: str = ""
    id: int = 0

    def describe(self) -> str:
        number = f"ip rule {self.id}: " if self.id else ""
        return f"{number}{self.action} {self.network} ({self.scope or 'server'})"


@dataclass(frozen=True, slots=True)
class Group:
    """A named set of users sharing settings (``options`` overrides the global settings)."""

    name: str
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Member:
    """A stored user's policy side: its groups in order of precedence, and its own overrides."""

    name: str
    groups: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ban:
    """An address refused at connect until ``until`` (wall-clock seconds)."""

    ip: str
    until: float
    reason: str
    offences: int = 1
