"""A rename that never replaces: renameat2(RENAME_NOREPLACE), its fallback (a hard link and
an unlink for a file) where the C library or the file system lacks it, and replace=False."""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.storage.test_storage_parity import made_store, s3_location
from tests.support.seaweed import Weed, unique_prefix

from pasv.protocol.errors import AlreadyExists
from pasv.storage import localrename
from pasv.storage.base import Storage
from pasv.storage.localrename import rename_no_replace
from pasv.storage.s3 import S3Storage
from pasv.storage.s3client import S3Connection
from pasv.storage.s3write import copy_object


def _flag_refused(*args: object) -> int:
    """renameat2 as a file system without RENAME_NOREPLACE answers it."""
    ctypes.set_errno(errno.EINVAL)
    return -1


@pytest.fixture(params=["renameat2", "no renameat2", "flag refused"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "renameat2":
        assert localrename.atomic_no_replace()  # glibc >= 2.28 on every machine we run on
    elif request.param == "no renameat2":
        monkeypatch.setattr(localrename, "_renameat2", None)
    else:
        monkeypatch.setattr(localrename, "_renameat2", _flag_refused)
    return str(request.param)


def test_an_existing_file_is_not_replaced(tmp_path: Path, way: str) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    with pytest.raises(FileExistsError):
        rename_no_replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert (tmp_path / "a").read_bytes() == b"a"
    assert (tmp_path / "b").read_bytes() == b"b"


def test_a_file_is_moved_where_nothing_is(tmp_path: Path, way: str) -> None:
    (tmp_path / "a").write_bytes(b"a")
    inode = (tmp_path / "a").stat().st_ino
    rename_no_replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "b").stat().st_ino == inode
    assert (tmp_path / "b").stat().st_nlink == 1


def test_a_link_is_moved_as_a_link(tmp_path: Path, way: str) -> None:
    (tmp_path / "file").write_bytes(b"f")
    (tmp_path / "ln").symlink_to("file")
    rename_no_replace(str(tmp_path / "ln"), str(tmp_path / "moved"))
    assert os.readlink(tmp_path / "moved") == "file"
    assert (tmp_path / "file").stat().st_nlink == 1


def test_an_empty_directory_is_not_replaced(tmp_path: Path, way: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "in").write_bytes(b"x")
    (tmp_path / "b").mkdir()
    with pytest.raises(FileExistsError):
        rename_no_replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert (tmp_path / "a" / "in").exists() and (tmp_path / "b").is_dir()
    rename_no_replace(str(tmp_path / "a"), str(tmp_path / "c"))
    assert (tmp_path / "c" / "in").read_bytes() == b"x"


def test_a_directory_into_itself_is_still_einval(tmp_path: Path, way: str) -> None:
    (tmp_path / "a").mkdir()
    with pytest.raises(OSError) as caught:
        rename_no_replace(str(tmp_path / "a"), str(tmp_path / "a" / "b"))
    assert caught.value.errno == errno.EINVAL


@pytest.fixture(params=["local", "memory", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    async with made_store(request, tmp_path) as made:
        for name, data in (("/a", b"a"), ("/b", b"b")):
            handle = await made.open_write(name)
            await handle.write(data)
            await handle.commit()
            await handle.close()
        await made.mkdir("/dir")
        yield made


async def _read(store: Storage, path: str) -> bytes:
    handle = await store.open_read(path)
    try:
        return await handle.read(100)
    finally:
        await handle.close()


async def test_a_store_refuses_to_replace_and_changes_nothing(store: Storage) -> None:
    for target in ("/b", "/dir"):
        with pytest.raises(AlreadyExists):
            await store.rename("/a", target, replace=False)
    assert sorted(f.name for f in await store.listdir("/")) == ["a", "b", "dir"]
    assert (await _read(store, "/a"), await _read(store, "/b")) == (b"a", b"b")
    await store.rename("/a", "/c", replace=False)
    await store.rename("/c", "/b")  # replacing, asked for
    assert sorted(f.name for f in await store.listdir("/")) == ["b", "dir"]
    assert await _read(store, "/b") == b"a"


async def test_an_s3_copy_onto_an_object_made_since_the_look_is_refused(weed: Weed) -> None:
    """The S3 rename's look happens before its copy: the copy itself must refuse an object
    made in between (If-None-Match: *), and write nothing."""
    conn = S3Connection(s3_location(weed))
    store = S3Storage(conn, unique_prefix())
    key = store._key  # the keys the store chose
    try:
        for name in ("a", "b"):
            handle = await store.open_write(f"/{name}")
            await handle.write(name.encode())
            await handle.commit()
            await handle.close()
        with pytest.raises(AlreadyExists):
            await copy_object(conn, key("/a"), key("/b"), 1, new=True)
        assert await _read(store, "/b") == b"b"
        await copy_object(conn, key("/a"), key("/c"), 1, new=True)
        assert await _read(store, "/c") == b"a"
    finally:
        await conn.aclose()
