"""An upload's target (``Storage.upload_target``): the files-in-use lock's name, and the walk
that found it carried by the caller to ``open_write``, never kept in the store, which sessions
share: uploads of one store whose targets are taken before either opens each go by their own
walk, and a target that is not this store's walk of this path is looked past."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.storage.test_storage_parity import made_store

from pasv.storage.base import Storage, UploadTarget
from pasv.storage.local import LocalStorage
from pasv.storage.mounts import MountedStorage


class CountingStorage(LocalStorage):
    """A local store that counts its path walks (one ``lstat`` per component each)."""

    walks = 0

    def _walk(self, parts: list[str]) -> tuple[str, bool, os.stat_result | None]:
        self.walks += 1
        return super()._walk(parts)


async def _upload(store: Storage, path: str, data: bytes, target: UploadTarget) -> None:
    handle = await store.open_write(path, target=target)
    try:
        await handle.begin()
        await handle.write(data)
        await handle.commit()
    finally:
        await handle.close()


async def test_interleaved_uploads_of_one_store_each_go_by_their_own_walk(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.txt").write_bytes(b"old a")
    (tmp_path / "b.txt").write_bytes(b"old b")
    store = CountingStorage(tmp_path)
    first = store.upload_target("/a.txt")  # two sessions' locks taken, then both open
    second = store.upload_target("/b.txt")
    await _upload(store, "/a.txt", b"new a", first)
    await _upload(store, "/b.txt", b"new b", second)
    assert store.walks == 2  # one walk per upload: neither open walked again
    assert (tmp_path / "a.txt").read_bytes() == b"new a"
    assert (tmp_path / "b.txt").read_bytes() == b"new b"


async def test_another_stores_target_for_the_same_path_is_looked_past(tmp_path: Path) -> None:
    for name in ("alice", "bob"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "f.txt").write_bytes(f"{name}'s".encode())
    alice, bob = LocalStorage(tmp_path / "alice"), LocalStorage(tmp_path / "bob")
    await _upload(bob, "/f.txt", b"bob's new", alice.upload_target("/f.txt"))
    assert (tmp_path / "alice" / "f.txt").read_bytes() == b"alice's"
    assert (tmp_path / "bob" / "f.txt").read_bytes() == b"bob's new"


async def test_a_virtual_folder_hands_its_stores_target_back_to_it(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "f.txt").write_bytes(b"old")
    folder = CountingStorage(tmp_path / "shared", mounted_at="/shared")
    tree = MountedStorage(LocalStorage(tmp_path / "home"), {"shared": folder})
    target = tree.upload_target("/shared/f.txt")
    assert target.identity == tree.identity("/shared/f.txt") == str(tmp_path / "shared" / "f.txt")
    folder.walks = 0
    await _upload(tree, "/shared/f.txt", b"new", target)
    assert folder.walks == 0  # the open went by the walk the target carried
    assert (tmp_path / "shared" / "f.txt").read_bytes() == b"new"


@pytest.fixture(params=["local", "memory", "s3"])
async def empty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    async with made_store(request, tmp_path) as store:
        yield store


@pytest.mark.parametrize("path", ["/new.txt", "/old.txt"])
async def test_every_store_names_the_target_as_identity_does(empty: Storage, path: str) -> None:
    await _upload(empty, "/old.txt", b"old", empty.upload_target("/old.txt"))
    target = empty.upload_target(path)
    assert (target.path, target.identity) == (path, empty.identity(path))
    await _upload(empty, path, b"new", target)
    handle = await empty.open_read(path)
    try:
        assert await handle.read(10) == b"new"
    finally:
        await handle.close()
