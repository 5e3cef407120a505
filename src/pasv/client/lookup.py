"""One entry by its path (MLST, else LIST of the path), and ``ls`` of a directory or a file."""

from __future__ import annotations

import posixpath
from dataclasses import replace

from pasv.client.client import FtpClient
from pasv.client.errors import ReplyError
from pasv.client.listings import listing_lines
from pasv.protocol.errors import FtpError
from pasv.protocol.listing import FileFacts, parse_list_line, parse_mlsx_line

__all__ = ["list_path", "stat"]

NOT_A_DIRECTORY = frozenset({450, 501, 550})  # what servers answer to MLSD/LIST of a file


def _named(facts: FileFacts, path: str) -> FileFacts:
    """The entry under its own name (MLST and LIST of a path may show the whole path)."""
    return replace(facts, name=posixpath.basename(facts.name.rstrip("/")) or path)


async def stat(client: FtpClient, path: str) -> FileFacts | None:
    """The facts of one entry: MLST when offered, else LIST of the path; None if not found."""
    if client.uses_mlsd:
        reply = await client.command(f"MLST {path}")
        if reply.code != 250:
            if reply.code in (421, 530) or not 500 <= reply.code < 600:
                raise ReplyError("MLST", reply)
            return None
        for line in reply.lines[1:]:
            if line.startswith(" "):
                try:
                    return _named(parse_mlsx_line(line), path)
                except FtpError:
                    return None
        return None
    try:
        entries = [
            facts
            for line in listing_lines(await client.list_text(path))
            if line.strip() and (facts := parse_list_line(line)) is not None
        ]
    except ReplyError as exc:
        if exc.transient:
            raise
        return None
    return _named(entries[0], path) if len(entries) == 1 else None


async def list_path(client: FtpClient, path: str) -> list[FileFacts]:
    """A directory's entries; for a file (MLSD on a file is an error), its one entry."""
    try:
        return await client.listdir(path)
    except ReplyError as exc:
        if exc.code not in NOT_A_DIRECTORY:
            raise
        facts = await stat(client, path)
        if facts is None or facts.kind == "dir":
            raise
        return [facts]
