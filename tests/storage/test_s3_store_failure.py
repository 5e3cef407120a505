"""An S3 upload the store failed keeps nothing, even in the standard upload mode (which keeps
what arrived of an upload the client broke off) and even when the store is back by the close."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, start_weed, unique_prefix

from pasv.protocol.errors import LocalError
from pasv.storage.s3 import S3Storage
from pasv.storage.s3client import MIN_PART, S3Connection, S3Location


async def test_a_first_part_the_store_failed_leaves_the_old_object(tmp_path: Path) -> None:
    weed = start_weed(tmp_path / "weed")
    prefix = unique_prefix()
    location = S3Location(
        endpoint=weed.endpoint,
        bucket=BUCKET,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        part_size=MIN_PART,
        connect_timeout=2.0,
        read_timeout=10.0,
    )
    conn = S3Connection(location)
    store = S3Storage(conn, prefix)
    try:
        old = os.urandom(1000)
        handle = await store.open_write("/f.bin")  # the standard mode: in place
        await handle.begin()
        await handle.write(old)
        await handle.commit()
        await handle.close()

        handle = await store.open_write("/f.bin")
        await handle.begin()
        weed.kill()
        with pytest.raises(LocalError):  # a full part: its multipart upload cannot be made
            await handle.write(os.urandom(MIN_PART + 1))
        weed = start_weed(tmp_path / "weed", ports=weed.ports)  # back before the close
        assert weed.wait_readable(f"{prefix}/f.bin") == old
        await handle.close()  # was: a PUT of what the buffer held then, an empty object
        assert weed.keys(prefix) == {f"{prefix}/f.bin": len(old)}
        assert weed.wait_readable(f"{prefix}/f.bin") == old
    finally:
        await conn.aclose()
        weed.kill()
