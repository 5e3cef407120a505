"""Every store's read handle answers ``changed()``: a download that read bytes of two versions of
a file says so (and ends in 451), one that read a single version whole does not (and ends in 226).
The same file is rewritten in place under an open handle in each store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.storage.test_storage_parity import made_store

from pasv.storage.base import ReadHandle, Storage
from pasv.storage.local import LocalStorage

SIZE = 24 * 1024 * 1024  # more than one read and than the HTTP client's buffers
FIRST = 64 * 1024


@pytest.fixture(params=["local", "memory", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    async with made_store(request, tmp_path) as made:
        yield made


async def _write(store: Storage, data: bytes) -> None:
    handle = await store.open_write("/f.bin")  # in place (the default upload mode)
    try:
        for start in range(0, len(data), 1 << 20):
            await handle.write(data[start : start + (1 << 20)])
        await handle.commit()
    finally:
        await handle.close()


async def _read_all(handle: ReadHandle, data: bytes) -> bytes:
    while chunk := await handle.read(1 << 20):
        data += chunk
    return data


async def test_a_read_handle_is_a_read_handle_with_changed(store: Storage) -> None:
    await _write(store, b"x" * 10)
    handle = await store.open_read("/f.bin")
    try:
        assert isinstance(handle, ReadHandle)  # the protocol has changed() since it is asked
        assert handle.changed() is False
        assert await _read_all(handle, b"") == b"x" * 10
        assert handle.changed() is False
    finally:
        await handle.close()


async def test_a_file_rewritten_under_an_open_handle_is_one_version_or_changed(
    store: Storage,
) -> None:
    old, new = b"a" * SIZE, b"b" * SIZE
    await _write(store, old)
    handle = await store.open_read("/f.bin")
    try:
        data = await handle.read(FIRST)
        await _write(store, new)  # same size, other bytes: nothing in the size gives it away
        data = await _read_all(handle, data)
        if isinstance(store, LocalStorage):  # in place on disk: the rest is the new bytes
            assert data == old[:FIRST] + new[FIRST:]
            assert handle.changed()
        else:  # a snapshot (memory), one GET of one object version (S3): the old file whole
            assert data == old
            assert not handle.changed()
    finally:
        await handle.close()
