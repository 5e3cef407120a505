"""The same behaviour from MemoryStorage and LocalStorage, so tests may use either."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from tests.support.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, Weed, unique_prefix

from pasv.protocol.errors import (
    AlreadyExists,
    ArgumentError,
    DirectoryNotEmpty,
    FileUnavailable,
    IsADirectory,
    NotADirectory,
    OutsideJail,
    ParameterNotImplemented,
    PathNotFound,
    PermissionDenied,
)
from pasv.storage.base import IN_PLACE, Storage, WriteHandle, WriteMode
from pasv.storage.local import LocalStorage
from pasv.storage.memory import MemoryStorage
from pasv.storage.s3 import S3Storage
from pasv.storage.s3client import S3Connection, S3Location


def s3_location(weed: Weed, **extra: object) -> S3Location:
    return S3Location(
        endpoint=weed.endpoint,
        bucket=BUCKET,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        connect_timeout=2.0,
        read_timeout=10.0,
        **extra,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def made_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """An empty store of the kind ``request.param`` names: local, memory or s3 (SeaweedFS)."""
    if request.param == "s3":
        weed: Weed = request.getfixturevalue("weed")
        conn = S3Connection(s3_location(weed))
        try:
            yield S3Storage(conn, unique_prefix())
        finally:
            await conn.aclose()
    else:
        yield LocalStorage(tmp_path) if request.param == "local" else MemoryStorage()


@pytest.fixture(params=["local", "memory", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    async with made_store(request, tmp_path) as store:
        await store.mkdir("/dir")
        async with _closing(await store.open_write("/dir/f.txt")) as handle:
            await handle.write(b"hello world")
        yield store


@asynccontextmanager
async def _closing(handle: WriteHandle) -> AsyncIterator[WriteHandle]:
    try:
        yield handle
    finally:
        await handle.close()


async def _read_all(store: Storage, path: str, offset: int = 0) -> bytes:
    handle = await store.open_read(path, offset)
    try:
        chunks = []
        while chunk := await handle.read(4):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await handle.close()


async def test_basic_round_trip(storage: Storage) -> None:
    assert isinstance(storage, Storage)
    assert await _read_all(storage, "/dir/f.txt") == b"hello world"
    assert await _read_all(storage, "/dir/f.txt", 6) == b"world"
    facts = await storage.stat("/dir/f.txt")
    assert (facts.name, facts.kind, facts.size) == ("f.txt", "file", 11)
    assert (await storage.stat("/")).kind == "dir"
    assert (await storage.stat("/")).name == "/"
    assert [(f.name, f.kind) for f in await storage.listdir("/")] == [("dir", "dir")]


async def test_resume_append_exclusive(storage: Storage) -> None:
    async with _closing(await storage.open_write("/dir/f.txt", offset=6)) as h:
        await h.write(b"WORLD")
    assert h.written == 5
    assert await _read_all(storage, "/dir/f.txt") == b"hello WORLD"
    async with _closing(await storage.open_write("/dir/f.txt", append=True)) as h:
        await h.write(memoryview(b"!"))
    assert await _read_all(storage, "/dir/f.txt") == b"hello WORLD!"
    with pytest.raises(AlreadyExists):
        await storage.open_write("/dir/f.txt", exclusive=True)
    async with _closing(await storage.open_write("/dir/f.txt")) as h:
        await h.write(b"x")
    assert await _read_all(storage, "/dir/f.txt") == b"x"


@pytest.mark.parametrize("mode", [IN_PLACE, WriteMode(atomic=True)], ids=["in-place", "atomic"])
async def test_a_resume_past_the_end_is_refused_and_changes_nothing(
    storage: Storage, mode: WriteMode
) -> None:
    """The bytes between the end and the offset would be zeros that never arrived."""
    with pytest.raises(ArgumentError, match=r"REST offset 12 is beyond the end .*\(11 bytes\)"):
        await storage.open_write("/dir/f.txt", offset=12, mode=mode)
    with pytest.raises(ArgumentError, match=r"REST offset 1 is beyond the end .*\(0 bytes\)"):
        await storage.open_write("/dir/new.txt", offset=1, mode=mode)
    assert await _read_all(storage, "/dir/f.txt") == b"hello world"
    assert sorted(f.name for f in await storage.listdir("/dir")) == ["f.txt"]  # none created
    async with _closing(await storage.open_write("/dir/f.txt", offset=11, mode=mode)) as h:
        await h.write(b"!")  # at the very end: a resume like any other
        await h.commit()
    assert await _read_all(storage, "/dir/f.txt") == b"hello world!"


async def test_a_directory_moved_into_itself_is_refused_with_the_reason(storage: Storage) -> None:
    with pytest.raises(FileUnavailable, match=r"^550 A directory cannot be moved into itself\.$"):
        await storage.rename("/dir", "/dir/inside")
    assert [f.name for f in await storage.listdir("/dir")] == ["f.txt"]


async def test_tree_operations(storage: Storage) -> None:
    await storage.mkdir("/dir/sub")
    await storage.rename("/dir/f.txt", "/dir/sub/g.txt")
    await storage.rename("/dir", "/moved")
    assert [f.name for f in await storage.listdir("/moved")] == ["sub"]
    assert await _read_all(storage, "/moved/sub/g.txt") == b"hello world"
    if storage.capabilities.set_mtime:
        await storage.set_mtime("/moved/sub/g.txt", 1_234_567_890.0)
        assert (await storage.stat("/moved/sub/g.txt")).mtime == pytest.approx(1_234_567_890.0)
    else:  # declared, and refused with a reason
        with pytest.raises(PermissionDenied, match="modification times"):
            await storage.set_mtime("/moved/sub/g.txt", 1_234_567_890.0)
    await storage.delete("/moved/sub/g.txt")
    await storage.rmdir("/moved/sub")
    await storage.rmdir("/moved")
    assert await storage.listdir("/") == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.stat("/nope"), PathNotFound),
        (lambda s: s.stat("/dir/f.txt/x"), NotADirectory),
        (lambda s: s.listdir("/dir/f.txt"), NotADirectory),
        (lambda s: s.open_read("/dir"), IsADirectory),
        (lambda s: s.open_read("/dir/f.txt", -1), ArgumentError),
        (lambda s: s.open_write("/dir"), IsADirectory),
        (lambda s: s.open_write("/nope/x"), PathNotFound),
        (lambda s: s.open_write("/nope/x", offset=4), PathNotFound),  # not "beyond the end"
        (lambda s: s.mkdir("/dir"), AlreadyExists),
        (lambda s: s.mkdir("/nope/x"), PathNotFound),
        (lambda s: s.rmdir("/dir"), DirectoryNotEmpty),
        (lambda s: s.rmdir("/dir/f.txt"), NotADirectory),
        (lambda s: s.rmdir("/"), PermissionDenied),
        (lambda s: s.delete("/dir"), IsADirectory),
        (lambda s: s.delete("/nope"), PathNotFound),
        (lambda s: s.rename("/nope", "/x"), PathNotFound),
        (lambda s: s.rename("/dir/f.txt", "/nope/x"), PathNotFound),
        (lambda s: s.rename("/dir", "/dir/inside"), FileUnavailable),
        (lambda s: s.stat("/a\0b"), FileUnavailable),
        (lambda s: s.stat("/dir/../.."), OutsideJail),
        (lambda s: s.digest("/dir/f.txt", "BLAKE3"), ParameterNotImplemented),
        (lambda s: s.digest("/dir", "MD5"), IsADirectory),
    ],
)
async def test_same_refusals(storage: Storage, call, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        await call(storage)


async def test_digest(storage: Storage) -> None:
    data = b"hello world"
    assert await storage.digest("/dir/f.txt", "SHA-256") == hashlib.sha256(data).hexdigest()
    assert await storage.digest("/dir/f.txt", "MD5", 6) == hashlib.md5(data[6:]).hexdigest()
    assert await storage.digest("/dir/f.txt", "CRC32", 0, 5) == f"{zlib.crc32(data[:5]):08x}"


def test_memory_capabilities() -> None:
    caps = MemoryStorage().capabilities
    assert caps.sendfile is False
    assert caps.resume and caps.append and caps.atomic_rename and caps.set_mtime


async def test_memory_read_handle_has_no_descriptor() -> None:
    store = MemoryStorage()
    writer = await store.open_write("/x")
    await writer.write(b"abc")
    await writer.close()
    reader = await store.open_read("/x")
    assert reader.descriptor is None
    assert reader.size == 3
    await reader.close()


@pytest.mark.parametrize(
    "mode",
    [IN_PLACE, WriteMode(atomic=True), WriteMode(atomic=True, keep_partial=True)],
    ids=["in-place", "atomic", "atomic-resume"],
)
async def test_a_resume_ends_the_file_at_what_came_after_the_offset(
    storage: Storage, mode: WriteMode
) -> None:
    """REST 5 + STOR of 2 bytes over 11: 7 bytes, not the old tail behind the new bytes."""
    async with _closing(await storage.open_write("/dir/f.txt", offset=5, mode=mode)) as h:
        await h.write(b"XY")
        await h.commit()
    assert await _read_all(storage, "/dir/f.txt") == b"helloXY"
    async with _closing(await storage.open_write("/dir/f.txt", offset=3, mode=mode)) as h:
        await h.write(b"Z")  # a resume that broke after one byte, never committed
    expected = b"helloXY" if mode.atomic and not mode.keep_partial else b"helZ"
    assert await _read_all(storage, "/dir/f.txt") == expected


@pytest.mark.parametrize(
    "mode",
    [IN_PLACE, WriteMode(atomic=True), WriteMode(atomic=True, keep_partial=True)],
    ids=["in-place", "atomic", "atomic-resume"],
)
async def test_a_discarded_upload_takes_back_only_what_it_wrote(
    storage: Storage, mode: WriteMode
) -> None:
    """close(discard=True), as after a quota stop: an APPE leaves the old file whole, a resume
    its first n bytes (S3 and atomic uploads: the whole old object), a new file is removed."""
    async with _closing(await storage.open_write("/dir/f.txt", append=True, mode=mode)) as h:
        await h.write(b" and more")
        await h.close(discard=True)
    assert await _read_all(storage, "/dir/f.txt") == b"hello world"
    async with _closing(await storage.open_write("/dir/f.txt", offset=5, mode=mode)) as h:
        await h.write(b"XY")
        await h.close(discard=True)
    in_place = not mode.atomic and not isinstance(storage, S3Storage)
    expected = b"hello" if in_place else b"hello world"
    assert await _read_all(storage, "/dir/f.txt") == expected
    async with _closing(await storage.open_write("/dir/new.txt", append=True, mode=mode)) as h:
        await h.write(b"abc")
        await h.close(discard=True)
    with pytest.raises(PathNotFound):
        await storage.stat("/dir/new.txt")


async def test_the_owner_stays_with_the_file(storage: Storage) -> None:
    """Who uploaded a file (for the quota usage of a deletion): kept through a rename by the
    local and memory stores; S3 keeps none."""
    assert await storage.owner("/dir/f.txt") is None
    await storage.set_owner("/dir/f.txt", "carol")
    await storage.rename("/dir/f.txt", "/dir/g.txt")
    expected = None if isinstance(storage, S3Storage) else "carol"
    assert await storage.owner("/dir/g.txt") == expected
    await storage.set_owner("/dir/missing.txt", "carol")  # never a refusal
    assert await storage.owner("/dir/missing.txt") is None
