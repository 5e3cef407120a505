"""Asking the server for a file's hash: HASH (draft-bryan-ftpext-hash), else XSHA256 or XMD5."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pasv.client.client import FtpClient
from pasv.client.errors import ConnectionFailed, ReplyTimeout

__all__ = [
    "ChecksumTimeout",
    "checksum_in_time",
    "local_digest",
    "offers_checksum",
    "server_checksum",
]

_HASH_PREFERENCE = (("SHA-256", "sha256"), ("SHA-1", "sha1"), ("MD5", "md5"))
HASH_RATE = 20e6  # bytes a second a server hashes at least: the checksum's time to answer


class ChecksumTimeout(ConnectionFailed):
    """The server did not answer a file's checksum in time. Not retried: a new session would
    ask the same slow question again."""

    transient = False


def offers_checksum(client: FtpClient) -> bool:
    """The server named HASH, XSHA256 or XMD5 in its FEAT reply."""
    return any(name in client.features for name in ("HASH", "XSHA256", "XMD5"))


def local_digest(path: Path, algorithm: str) -> str:
    """The hex digest of a local file (blocking: run it in a thread for big files)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def server_checksum(
    client: FtpClient, path: str, timeout: float | None = None
) -> tuple[str, str] | None:
    """(hashlib name, hex digest) by the best command the server offers; None if none works.

    ``timeout``: how long the server may take to hash the file (it reads all of it)."""
    hash_feature = client.features.get("HASH")
    if hash_feature is not None:
        offered = {a.rstrip("*").upper(): a.endswith("*") for a in hash_feature.split(";")}
        for name, hashlib_name in _HASH_PREFERENCE:
            if name not in offered:
                continue
            if not offered[name] and (await client.command(f"OPTS HASH {name}")).code != 200:
                continue
            reply = await client.command(f"HASH {path}", timeout)
            parts = reply.lines[0].split(" ", 3)  # "SHA-256 0-1234 <hex> <path>"
            if reply.code == 213 and len(parts) >= 3:
                return hashlib_name, parts[2].lower()
            return None
    for verb, hashlib_name in (("XSHA256", "sha256"), ("XMD5", "md5")):
        if verb in client.features:
            reply = await client.command(f"{verb} {path}", timeout)
            words = reply.lines[-1].split()
            if reply.code in (213, 250) and words:
                return hashlib_name, words[0].lower()
    return None


async def checksum_in_time(
    client: FtpClient, path: str, size: int, consequence: str
) -> tuple[str, str] | None:
    """``server_checksum`` given ``--timeout`` plus 1 s per 20 MB of the file (``size``): the
    server reads all of it to answer. A checksum that does not come in that time closes the
    session (its late reply would answer the next command) and raises ChecksumTimeout, whose
    message ends with ``consequence`` (what that leaves undone)."""
    wait = client.options.timeout + size / HASH_RATE
    try:
        return await server_checksum(client, path, wait)
    except ReplyTimeout:
        await client.close()
        raise ChecksumTimeout(
            f"{path}: the server did not tell its checksum within {wait:.0f} s; {consequence} "
            "(a longer --timeout gives the server more time)"
        ) from None
