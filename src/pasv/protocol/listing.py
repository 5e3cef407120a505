"""Directory listings: ls -l (LIST) and MLSD/MLST facts, formatting and parsing (unix, MS-DOS)."""

from __future__ import annotations

import functools
import re
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pasv.protocol.errors import ArgumentError

__all__ = [
    "ALL_MLST_FACTS",
    "FileFacts",
    "Kind",
    "format_list_line",
    "format_mlsx_facts",
    "format_timeval",
    "parse_list_line",
    "parse_mlsx_line",
]

Kind = Literal["file", "dir", "link", "other"]

ALL_MLST_FACTS: frozenset[str] = frozenset(
    {"type", "size", "modify", "perm", "unique", "unix.mode"}
)
_FACT_ORDER = ("type", "size", "modify", "perm", "unique", "unix.mode")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(_MONTHS, start=1)}
_SIX_MONTHS = 180 * 86400
_ONE_HOUR = 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_TYPE_CHAR = {"file": "-", "dir": "d", "link": "l", "other": "-"}
_KIND_OF_CHAR: dict[str, Kind] = {"-": "file", "d": "dir", "l": "link"}
_MLSX_TYPE = {"file": "file", "dir": "dir", "link": "OS.unix=symlink", "other": "OS.unix=other"}


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a listing says about one entry; ``mtime`` is a UTC epoch, ``mode`` permission bits."""

    name: str
    kind: Kind
    size: int
    mtime: float
    mode: int
    nlink: int = 1
    owner: str = "ftp"
    group: str = "ftp"
    unique: str = ""


def _utc(mtime: float) -> datetime:
    try:
        return _EPOCH + timedelta(seconds=mtime)
    except (OverflowError, ValueError):
        return _EPOCH


def format_timeval(mtime: float) -> str:
    """RFC 3659 time-val ``YYYYMMDDHHMMSS`` in UTC, always with four year digits (strftime's
    ``%Y`` gives "24" for the year 24, which no parser reads back)."""
    t = _utc(mtime)
    return f"{t.year:04d}{t.month:02d}{t.day:02d}{t.hour:02d}{t.minute:02d}{t.second:02d}"


@functools.lru_cache(maxsize=256)
def _account(name: str) -> str:
    """The owner or group column: no blanks in it (memoised: a listing repeats the same few)."""
    return re.sub(r"\s", "_", name) or "?"


def format_list_line(f: FileFacts, now: float) -> str:
    """One ``ls -l`` line: recent dates show the time, older (or far future) ones the year.

    The layout is pyftpdlib's (``%s %3d %-8s %-8s %8d``), known to parse in FileZilla, curl,
    lftp, ftplib and aioftp: ``-rw-r--r--   1 ftp      ftp          1234 Jan 02 12:34 name``.
    """
    perms = stat.filemode(f.mode & 0o7777)[1:]
    when = _utc(f.mtime)
    month = _MONTHS[when.month - 1]
    if now - _SIX_MONTHS < f.mtime <= now + _ONE_HOUR:
        date = f"{month} {when.day:02d} {when.hour:02d}:{when.minute:02d}"
    else:
        date = f"{month} {when.day:02d}  {when.year:04d}"
    return (
        f"{_TYPE_CHAR[f.kind]}{perms} {f.nlink:3d} {_account(f.owner):<8} "
        f"{_account(f.group):<8} {f.size:8d} {date} {f.name}"
    )


def format_mlsx_facts(
    f: FileFacts,
    perm: str,
    facts_wanted: frozenset[str] = ALL_MLST_FACTS,
    type_override: str | None = None,
) -> str:
    """RFC 3659 fact line "type=file;size=3;modify=...;perm=r;unique=..;unix.mode=0644; name"."""
    wanted = {fact.lower() for fact in facts_wanted}
    values = {
        "type": type_override or _MLSX_TYPE[f.kind],
        "size": str(f.size),
        "modify": format_timeval(f.mtime),
        "perm": perm,
        "unique": f.unique,
        "unix.mode": f"0{f.mode & 0o7777:03o}",
    }
    parts = [
        f"{fact}={values[fact]};"
        for fact in _FACT_ORDER
        if fact in wanted and not (fact == "unique" and not f.unique)
    ]
    return "".join(parts) + " " + f.name


# --- parsing -------------------------------------------------------------------------------
_UNIX_DATE = (
    r"(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    r"(?:(?P<hh>\d{1,2}):(?P<mm>\d{2})|(?P<year>\d{4}))"
    r"|(?P<iso>\d{4}-\d{2}-\d{2} \d{2}:\d{2})"
)
_UNIX_HEAD = r"(?P<type>[-bcdDlps])(?P<perms>[-rwxsStTlL]{9})[+.@]?\s+(?P<nlink>\d+)\s+"
_UNIX = re.compile(
    _UNIX_HEAD
    + r"(?P<owner>\S+)\s+(?P<group>\S+)\s+(?P<size>\d+)\s+(?:"
    + _UNIX_DATE
    + r") (?P<name>.+)",
    re.ASCII,
)
_UNIX_NO_GROUP = re.compile(
    _UNIX_HEAD + r"(?P<owner>\S+)\s+(?P<size>\d+)\s+(?:" + _UNIX_DATE + r") (?P<name>.+)",
    re.ASCII,
)
_DOS = re.compile(
    r"(?P<mo>\d{2})-(?P<d>\d{2})-(?P<y>\d{2}|\d{4})\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*"
    r"(?P<ampm>[AaPp][Mm])?\s+(?:(?P<dir><DIR>)|(?P<size>\d[\d,]*))\s+(?P<name>.+)",
    re.ASCII,
)


def _timestamp(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float | None:
    try:
        return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _mode_from_perms(perms: str) -> int:
    mode = 0
    for i, ch in enumerate(perms):
        bit = 1 << (8 - i)
        if ch in "rwxst":
            mode |= bit
        if ch in "sS" and i == 2:
            mode |= stat.S_ISUID
        elif ch in "sSlL" and i == 5:
            mode |= stat.S_ISGID
        elif ch in "tT" and i == 8:
            mode |= stat.S_ISVTX
    return mode


def _unix_mtime(m: re.Match[str], now: float) -> float | None:
    if m.group("iso"):
        y, mo, d, hh, mm = map(int, re.split(r"[- :]", m.group("iso")))
        return _timestamp(y, mo, d, hh, mm)
    month = _MONTH_NUMBER.get(m.group("mon").lower())
    if month is None:
        return None
    day = int(m.group("day"))
    if m.group("year"):
        return _timestamp(int(m.group("year")), month, day)
    hour, minute = int(m.group("hh")), int(m.group("mm"))
    year = _utc(now).year
    for candidate in (year, year - 1, year - 2, year - 3, year - 4):
        ts = _timestamp(candidate, month, day, hour, minute)
        if ts is not None and ts <= now + 86400:  # a time-only date is never far in the future
            return ts
    return None


def _parse_unix(line: str, now: float) -> FileFacts | None:
    m = _UNIX.fullmatch(line) or _UNIX_NO_GROUP.fullmatch(line)
    if m is None:
        return None
    mtime = _unix_mtime(m, now)
    if mtime is None:
        return None
    kind: Kind = _KIND_OF_CHAR.get(m.group("type").lower(), "other")
    name = m.group("name")
    if kind == "link" and " -> " in name:
        name = name.split(" -> ", 1)[0]
    group = m.group("group") if "group" in m.re.groupindex else "ftp"
    return FileFacts(
        name=name,
        kind=kind,
        size=int(m.group("size")),
        mtime=mtime,
        mode=_mode_from_perms(m.group("perms")),
        nlink=int(m.group("nlink")),
        owner=m.group("owner"),
        group=group,
    )


def _parse_dos(line: str) -> FileFacts | None:
    m = _DOS.fullmatch(line)
    if m is None:
        return None
    year = int(m.group("y"))
    if len(m.group("y")) == 2:
        year += 2000 if year < 70 else 1900
    hour, minute = int(m.group("hh")), int(m.group("mm"))
    ampm = (m.group("ampm") or "").upper()
    if ampm and not 1 <= hour <= 12:
        return None
    if ampm == "AM" and hour == 12:
        hour = 0
    elif ampm == "PM" and hour != 12:
        hour += 12
    mtime = _timestamp(year, int(m.group("mo")), int(m.group("d")), hour, minute)
    if mtime is None or hour > 23 or minute > 59:
        return None
    is_dir = m.group("dir") is not None
    size = 0 if is_dir else int(m.group("size").replace(",", ""))
    return FileFacts(m.group("name"), "dir" if is_dir else "file", size, mtime, 0)


def parse_list_line(line: str, *, now: float | None = None) -> FileFacts | None:
    """Parse one LIST line (unix ``ls -l`` or MS-DOS/IIS); None for "total N" and unknown lines.

    ``now`` (UTC epoch, default the current time) places dates shown without a year.
    """
    line = line.rstrip("\r\n")
    if not line.strip() or re.fullmatch(r"total\s+\d+", line.strip(), re.ASCII):
        return None
    if now is None:
        now = time.time()
    return _parse_unix(line, now) or _parse_dos(line)


def _mlsx_kind(value: str) -> Kind:
    value = value.lower()
    if value == "file":
        return "file"
    if value in ("dir", "cdir", "pdir"):
        return "dir"
    if value.startswith(("os.unix=slink", "os.unix=symlink")):
        return "link"
    return "other"


def _mlsx_time(value: str) -> float:
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?", value, re.ASCII)
    if m is None:
        raise ArgumentError(f"Malformed modify fact: {value!r}.")
    ts = _timestamp(*(int(g) for g in m.groups()[:5]))
    second = int(m.group(6))
    if ts is None or second > 60:
        raise ArgumentError(f"Malformed modify fact: {value!r}.")
    fraction = float("0." + m.group(7)) if m.group(7) else 0.0
    return ts + second + fraction


def _mlsx_int(fact: str, value: str, base: int = 10) -> int:
    digits = "01234567" if base == 8 else "0123456789"
    if not value or len(value) > 30 or value.strip(digits):
        raise ArgumentError(f"Malformed {fact} fact: {value[:40]!r}.")
    return int(value, base)


def parse_mlsx_line(line: str) -> FileFacts:
    """Parse one MLSD line (or an MLST entry line); raise ArgumentError when malformed."""
    line = line.rstrip("\r\n")
    if line.startswith(" ") and re.match(r"[^ =;]+=[^ ;]*;", line[1:]):
        line = line[1:]  # the leading space of an MLST entry inside a 250 reply
    facts_text, sep, name = line.partition(" ")
    if not sep or not name:
        raise ArgumentError(f"Malformed MLSx line: {line[:80]!r}.")
    facts: dict[str, str] = {}
    if facts_text:
        if not facts_text.endswith(";"):
            raise ArgumentError(f"Malformed MLSx facts: {facts_text[:80]!r}.")
        for part in facts_text[:-1].split(";"):
            key, eq, value = part.partition("=")
            if not eq or not key:
                raise ArgumentError(f"Malformed MLSx fact: {part[:80]!r}.")
            facts[key.lower()] = value
    kind = _mlsx_kind(facts["type"]) if "type" in facts else "other"
    size_text = facts.get("size", facts.get("sizd"))
    return FileFacts(
        name=name,
        kind=kind,
        size=_mlsx_int("size", size_text) if size_text is not None else 0,
        mtime=_mlsx_time(facts["modify"]) if "modify" in facts else 0.0,
        mode=_mlsx_int("unix.mode", facts["unix.mode"], 8) & 0o7777 if "unix.mode" in facts else 0,
        owner=facts.get("unix.ownername") or facts.get("unix.owner") or "ftp",
        group=facts.get("unix.groupname") or facts.get("unix.group") or "ftp",
        unique=facts.get("unique", ""),
    )
