"""Opening an upload changes nothing until ``begin`` (or the first write): a handle closed
before it leaves the file as it was, and takes back a new file its open made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.storage.test_storage_parity import made_store

from pasv.protocol.errors import PathNotFound
from pasv.storage.base import IN_PLACE, Storage, WriteMode

OLD = b"hello world"
MODES = [IN_PLACE, WriteMode(atomic=True), WriteMode(atomic=True, keep_partial=True)]
MODE_IDS = ["in-place", "atomic", "atomic-resume"]


@pytest.fixture(params=["local", "memory", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    async with made_store(request, tmp_path) as store:
        handle = await store.open_write("/f.txt")
        await handle.write(OLD)
        await handle.commit()
        await handle.close()
        yield store


async def _content(store: Storage, path: str) -> bytes:
    handle = await store.open_read(path)
    try:
        return await handle.read(1 << 20)
    finally:
        await handle.close()


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize(
    ("offset", "append"), [(0, False), (5, False), (0, True)], ids=["stor", "rest", "appe"]
)
@pytest.mark.parametrize("discard", [False, True], ids=["closed", "discarded"])
async def test_closed_before_begin_the_file_is_as_it_was(
    storage: Storage, mode: WriteMode, offset: int, append: bool, discard: bool
) -> None:
    handle = await storage.open_write("/f.txt", offset=offset, append=append, mode=mode)
    await handle.close(discard=discard)
    assert await _content(storage, "/f.txt") == OLD


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize(
    ("append", "exclusive"),
    [(False, False), (True, False), (False, True)],
    ids=["stor", "appe", "stou"],
)
async def test_a_new_file_closed_before_begin_is_not_left(
    storage: Storage, mode: WriteMode, append: bool, exclusive: bool
) -> None:
    handle = await storage.open_write("/new.txt", append=append, exclusive=exclusive, mode=mode)
    await handle.close()
    with pytest.raises(PathNotFound):
        await storage.stat("/new.txt")


@pytest.mark.parametrize(("offset", "expected"), [(0, b""), (5, b"hello")], ids=["stor", "rest"])
async def test_begin_makes_the_cut_of_an_upload_in_place(
    storage: Storage, offset: int, expected: bytes
) -> None:
    """An upload that begins and gets no byte: a STOR leaves an empty file, a REST n + STOR
    the first n bytes (in place, as the data connection closing at once does)."""
    handle = await storage.open_write("/f.txt", offset=offset)
    await handle.begin()
    await handle.commit()
    await handle.close()
    assert await _content(storage, "/f.txt") == expected
