"""S3 downloads: a (ranged) GetObject streamed to the data connection."""

from __future__ import annotations

from typing import Any

from pasv.storage.s3client import S3Connection


class S3ReadHandle:
    """A (ranged) GET streamed to the client; no file on disk, so ``descriptor`` is None."""

    descriptor: int | None = None

    def __init__(self, conn: S3Connection, size: int, body: Any) -> None:
        self._conn = conn
        self._size = size
        self._body = body

    @property
    def size(self) -> int:
        return self._size

    async def read(self, n: int) -> bytes:
        if self._body is None:
            return b""
        data: bytes = await self._conn.guarded("get_object", self._body.read(n))
        return data

    def changed(self) -> bool:
        """Never, and no HEAD is needed to know it: a PUT or a completed multipart upload
        replaces an object whole, and one GET streams one version of it (S3's consistency
        model: a read during an overwrite returns the old data or the new, never a mix). pasv's
        APPE and REST+STOR are such replacements too (UploadPartCopy, then complete)."""
        return False

    async def close(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()
