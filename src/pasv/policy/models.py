"""Policy value types: permissions as named flags, and the logged-in user."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass


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
    SITE = enum.auto()
    MFMT = enum.auto()
    READ = LIST | RETR
    WRITE = STOR | APPE | DELE | MKD | RMD | RENAME | MFMT
    ALL = READ | WRITE | SITE

    @classmethod
    def parse(cls, text: str) -> Perm:
        """Parse ``"read,write"`` or ``"LIST RETR STOR"``; RNFR/RNTO name RENAME."""
        return _parse_perm(text)

    def describe(self) -> str:
        """Names of the single flags set, e.g. ``"LIST,RETR"``; ``"ALL"`` when all are set."""
        if self == Perm.ALL:
            return "ALL"
        return ",".join(str(flag.name) for flag in self) or "NONE"


@functools.lru_cache(maxsize=256)
def _parse_perm(text: str) -> Perm:
    """Perm.parse, memoised: every login reads a stored permission string."""
    result = Perm.NONE
    for word in text.replace(",", " ").split():
        name = word.strip().upper()
        if name in ("RNFR", "RNTO"):
            name = "RENAME"
        try:
            result |= Perm[name]
        except KeyError:
            raise ValueError(f"unknown permission {word!r}") from None
    return result


@dataclass(frozen=True, slots=True)
class User:
    """A logged-in identity: its jail root on disk and what it may do there."""

    name: str
    home: str
    perms: Perm
    anonymous: bool = False
