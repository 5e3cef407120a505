"""A directory listing's text as entries: MLSD lines, or LIST lines (Unix ls -l, MS-DOS/IIS)."""

from __future__ import annotations

import os

from pasv.client.trace import Tracer
from pasv.protocol.errors import FtpError
from pasv.protocol.listing import FileFacts, parse_list_line, parse_mlsx_line

__all__ = ["listing_lines", "parse_listing"]


def listing_lines(text: str) -> list[str]:
    """The lines of a listing, split at LF only (one CR before it dropped). str.splitlines
    would also split at characters that are legal in names (\x85, \x0b, \x0c, \x1c-\x1e,
    U+2028), as latin-1 decodes cp1252's "…" (0x85)."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _mlsd_line(line: str) -> FileFacts | None:
    """The entry of an MLSD line; None for the directory itself and its parent; FtpError when
    the line has no facts."""
    facts_text = line.split(" ", 1)[0].lower()
    if "type=cdir;" in facts_text or "type=pdir;" in facts_text:
        return None
    return parse_mlsx_line(line)


def _one_name(name: str) -> bool:
    """Whether ``name`` can be an entry of a directory: one part, not "." or "..". A server
    that lists ``../../.bashrc`` or ``/etc/cron.d/x`` would otherwise have a download write
    there, outside the directory it goes into."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        return False
    return all(sep not in name for sep in (os.sep, os.altsep) if sep)  # "\\" on Windows


def parse_listing(text: str, mlsd: bool, trace: Tracer) -> list[FileFacts]:
    """The entries of a listing, without "." and ".."; unreadable lines are skipped, and so are
    names that are paths or hold a line break (said in the session log).

    In MLSD every line starts with facts (RFC 3659), so a line without them (or an empty one)
    right after an entry is the rest of that entry's name, cut at a line feed: the entry is
    dropped, not taken for a file named by the name's first part."""
    entries: list[FileFacts] = []
    lines = listing_lines(text)
    if lines and not lines[-1]:
        lines.pop()  # what follows the last line feed
    after_entry = False  # the line before gave an entry
    for line in lines:
        continued, after_entry = after_entry, False
        unreadable = mlsd and not line.strip()
        try:
            facts = None if unreadable else _mlsd_line(line) if mlsd else parse_list_line(line)
        except FtpError:
            facts, unreadable = None, True
        if unreadable and continued:
            name = f"{entries.pop().name}\n{line}"
            trace("Status", f"Skipped an entry whose name has a line break: {name[:80]!r}")
            continue
        if unreadable and line.strip():
            trace("Status", f"Skipped an unreadable MLSD line: {line[:80]!r}")
        if facts is None or facts.name in (".", ".."):
            continue
        if not _one_name(facts.name):
            trace("Status", f"Skipped an entry whose name is a path: {facts.name[:80]!r}")
            continue
        if "\r" in facts.name:  # a command ends at it: no SIZE, RETR or CWD can name it
            trace("Status", f"Skipped an entry whose name has a line break: {facts.name[:80]!r}")
            continue
        entries.append(facts)
        after_entry = True
    return entries
