"""A storage call outside any session's command (no link guard in its context) fails closed: a
path through a symbolic link inside the root is refused, never followed unchecked, and a
listing describes links as links; paths without links work as ever."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest
from tests.storage.test_local_jail import Trusting

from pasv.protocol.errors import PermissionDenied
from pasv.storage.links import LINKS, UNGUARDED
from pasv.storage.local import LocalStorage

UNCHECKED = "leads through a symbolic link, and no session is here to check where it leads"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "s.txt").write_bytes(b"secret")
    (tmp_path / "plain.txt").write_bytes(b"plain")
    (tmp_path / "ln").symlink_to("secret")
    (tmp_path / "file-ln").symlink_to("plain.txt")
    return LocalStorage(tmp_path)


async def test_a_path_through_a_link_is_refused_without_a_session(
    storage: LocalStorage, tmp_path: Path
) -> None:
    assert LINKS.get() is UNGUARDED
    attempts = [
        storage.stat("/ln/s.txt"),
        storage.open_read("/ln/s.txt"),
        storage.open_read("/file-ln"),
        storage.listdir("/ln"),
        storage.open_write("/ln/new.txt"),
        storage.mkdir("/ln/new"),
        storage.delete("/ln/s.txt"),
        storage.rename("/ln/s.txt", "/moved.txt"),
        storage.rename("/plain.txt", "/ln/plain.txt"),
        storage.set_mtime("/ln/s.txt", 0.0),
        storage.digest("/ln/s.txt", "SHA-256"),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied) as refused:
            await attempt
        assert UNCHECKED in str(refused.value)
    assert sorted(p.name for p in (tmp_path / "secret").iterdir()) == ["s.txt"]
    assert (tmp_path / "plain.txt").read_bytes() == b"plain"


async def test_a_listing_without_a_session_shows_links_as_links(storage: LocalStorage) -> None:
    kinds = {f.name: f.kind for f in await storage.listdir("/")}
    assert kinds == {"file-ln": "link", "ln": "link", "plain.txt": "file", "secret": "dir"}


async def test_paths_without_links_work_without_a_session(storage: LocalStorage) -> None:
    assert (await storage.stat("/secret/s.txt")).size == 6
    async with await storage.open_read("/plain.txt") as handle:
        assert await handle.read(10) == b"plain"
    await storage.rename("/plain.txt", "/renamed.txt")
    await storage.delete("/ln")  # the link itself: nothing is followed


async def test_a_task_outside_the_session_context_is_unguarded(storage: LocalStorage) -> None:
    """A task made in a fresh context (as a callback of the event loop would run) has no guard,
    even while the code that made it had one."""
    LINKS.set(Trusting())
    assert (await storage.stat("/ln/s.txt")).size == 6
    outside = asyncio.get_running_loop().create_task(
        storage.stat("/ln/s.txt"), context=contextvars.Context()
    )
    with pytest.raises(PermissionDenied):
        await outside
