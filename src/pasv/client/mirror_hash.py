"""mirror --checksum: compare files of the same size by the server's hash and the local one."""

from __future__ import annotations

import asyncio
import posixpath
from pathlib import Path

from pasv.client.checksums import checksum_in_time, local_digest, offers_checksum
from pasv.client.client import FtpClient
from pasv.client.mirror import Entry

__all__ = ["NO_HASH", "compare_hashes"]

NO_HASH = "The server offers no HASH, XSHA256 or XMD5; comparing by size and modification time."
UNCOMPARED = "mirror compares before it copies, so nothing was copied"


async def compare_hashes(
    client: FtpClient, remote_root: str, local_root: Path, source: dict[str, Entry],
    target: dict[str, Entry],
) -> dict[str, bool] | None:  # fmt: skip
    """For each file both trees have with the same size: whether the hashes agree.

    None (and a Status line) when the server offers no hash command at all. Each hash may
    take as long as after a get (``checksum_in_time``); one that does not come ends the
    comparison with ChecksumTimeout, which is not retried.
    """
    if not offers_checksum(client):
        client.status(NO_HASH)
        return None
    same: dict[str, bool] = {}
    for rel, entry in source.items():
        other = target.get(rel)
        if entry.kind != "file" or other is None or other.kind != "file":
            continue
        if entry.size != other.size:
            continue
        path = posixpath.join(remote_root, rel)
        remote = await checksum_in_time(client, path, entry.size, UNCOMPARED)
        if remote is None:  # this file cannot be hashed there: copy it to be sure
            same[rel] = False
            continue
        algorithm, digest = remote
        same[rel] = await asyncio.to_thread(local_digest, local_root / rel, algorithm) == digest
    return same
