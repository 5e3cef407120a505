"""Small helpers shared by the interop tests: hashes, client binaries, URLs, file trees."""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import pytest

from tests.support.live import LiveServer


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def require(binary: str) -> str:
    """The path of a client program, or skip the test saying which one is missing."""
    found = shutil.which(binary)
    if found is None:
        pytest.skip(f"{binary} is not installed (make debs-test installs it)")
    return found


def url_host(live: LiveServer) -> str:
    """The server's address as it goes into a URL (IPv6 in brackets)."""
    return f"[{live.host}]" if ":" in live.host else live.host


def base_url(live: LiveServer) -> str:
    return f"ftp://{url_host(live)}:{live.port}/"


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def write_random(path: Path, size: int, seed: int) -> str:
    """Create a file of pseudo-random bytes; return its sha256."""
    data = random_bytes(size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256_bytes(data)


def tree_digests(root: Path) -> dict[str, str]:
    """Every regular file below root: its POSIX relative path -> sha256."""
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
