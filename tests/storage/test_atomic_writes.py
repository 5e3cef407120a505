"""Atomic uploads on the local disk: invisible until committed, nothing left when dropped,
with O_TMPFILE and with hidden names; the same semantics from MemoryStorage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pasv.protocol.errors import AlreadyExists
from pasv.storage.base import Storage, WriteMode
from pasv.storage.local import LocalStorage
from pasv.storage.memory import MemoryStorage

ATOMIC = WriteMode(atomic=True)
RESUMABLE = WriteMode(atomic=True, keep_partial=True)


@pytest.fixture(params=["unnamed", "hidden-name", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    return LocalStorage(tmp_path, unnamed_uploads=request.param == "unnamed")


async def names(store: Storage) -> list[str]:
    return [f.name for f in await store.listdir("/")]


async def content(store: Storage, path: str) -> bytes:
    handle = await store.open_read(path)
    try:
        return await handle.read(1 << 20)
    finally:
        await handle.close()


async def put(store: Storage, path: str, data: bytes) -> None:
    handle = await store.open_write(path)
    await handle.write(data)
    await handle.close()


async def test_invisible_until_committed(store: Storage) -> None:
    await put(store, "/a.txt", b"old")
    handle = await store.open_write("/a.txt", mode=ATOMIC)
    await handle.write(b"new bytes")
    assert await content(store, "/a.txt") == b"old"
    assert await names(store) == ["a.txt"]
    await handle.commit()
    await handle.close()
    assert await content(store, "/a.txt") == b"new bytes"
    assert await names(store) == ["a.txt"]


async def test_dropped_upload_leaves_nothing(store: Storage) -> None:
    handle = await store.open_write("/new.txt", mode=ATOMIC)
    await handle.write(b"part")
    await handle.close()
    assert await names(store) == []


async def test_keep_partial_replaces_only_when_bytes_came(store: Storage) -> None:
    await put(store, "/a.txt", b"old")
    untouched = await store.open_write("/a.txt", mode=RESUMABLE)
    await untouched.close()
    assert await content(store, "/a.txt") == b"old"
    dropped = await store.open_write("/a.txt", mode=RESUMABLE)
    await dropped.write(b"over quota")
    await dropped.close(discard=True)
    assert await content(store, "/a.txt") == b"old"
    kept = await store.open_write("/a.txt", mode=RESUMABLE)
    await kept.write(b"pa")
    await kept.close()
    assert await content(store, "/a.txt") == b"pa"


async def test_resume_and_append_start_from_the_current_file(store: Storage) -> None:
    await put(store, "/log", b"0123456789")
    resumed = await store.open_write("/log", offset=4, mode=ATOMIC)
    await resumed.write(b"AB")
    await resumed.commit()
    await resumed.close()
    assert await content(store, "/log") == b"0123AB"
    appended = await store.open_write("/log", append=True, mode=ATOMIC)
    await appended.write(b"+")
    await appended.commit()
    await appended.close()
    assert await content(store, "/log") == b"0123AB+"


@pytest.mark.parametrize("unnamed", [True, False])
async def test_local_disk_holds_no_stray_file(tmp_path: Path, unnamed: bool) -> None:
    store = LocalStorage(tmp_path, unnamed_uploads=unnamed)
    handle = await store.open_write("/f.bin", mode=WriteMode(atomic=True, fsync=True))
    await handle.write(b"x" * 1000)
    during = sorted(os.listdir(tmp_path))
    if unnamed:
        assert during == []  # O_TMPFILE: no name at all while it is written
    else:
        assert len(during) == 1 and during[0].startswith(".pasv-upload-")
        assert await names(store) == []
    await handle.commit()
    await handle.close()
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]
    dropped = await store.open_write("/g.bin", mode=ATOMIC)
    await dropped.write(b"y")
    await dropped.close()
    assert sorted(os.listdir(tmp_path)) == ["f.bin"]


@pytest.mark.parametrize("unnamed", [True, False])
async def test_exclusive_commit_never_replaces(tmp_path: Path, unnamed: bool) -> None:
    store = LocalStorage(tmp_path, unnamed_uploads=unnamed)
    handle = await store.open_write("/u", exclusive=True, mode=ATOMIC)
    await handle.write(b"mine")
    (tmp_path / "u").write_bytes(b"theirs")  # appeared while the upload ran
    with pytest.raises(AlreadyExists):
        await handle.commit()
    await handle.close()
    assert (tmp_path / "u").read_bytes() == b"theirs"
    assert sorted(os.listdir(tmp_path)) == ["u"]
