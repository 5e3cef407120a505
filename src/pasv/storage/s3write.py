"""S3 uploads: multipart, streamed part by part (memory stays flat), the kept head of an
existing object (APPE, REST+STOR) copied on the server side with UploadPartCopy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pasv.protocol import errors as err
from pasv.storage.s3client import MAX_COPY_PART, MIN_PART, S3Connection

log = logging.getLogger("pasv.storage.s3")


def copy_ranges(size: int) -> list[tuple[int, int]]:
    """Split ``[0, size)`` into as few equal ranges as UploadPartCopy allows (each at most
    5 GiB, and all at least 5 MiB when ``size`` is), inclusive ends as in HTTP ranges."""
    count = max(1, -(-size // MAX_COPY_PART))
    step = -(-size // count)
    return [(start, min(size, start + step) - 1) for start in range(0, size, step)]


class S3WriteHandle:
    """Bytes go to a buffer of one part; a full part is sent while the next one fills, so at
    most two parts are held. Nothing is visible under the key until ``commit``; a handle
    closed uncommitted aborts its multipart upload (the previous object stays as it was), or
    with ``keep_partial`` completes it with what arrived, unless the store itself failed: its
    parts are then not all known to be there (a failed first one never was), and the
    previous object stays even when the store is back by the time of the close."""

    def __init__(
        self,
        conn: S3Connection,
        key: str,
        *,
        keep: int = 0,
        etag: str | None = None,
        keep_partial: bool = False,
    ) -> None:
        self._conn = conn
        self._key = key
        self._keep = keep  # bytes of the existing object that stay in front of the new ones
        self._etag = etag  # the version those bytes come from (the copy fails if it changed)
        self._keep_partial = keep_partial
        self._part_size = conn.location.part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pending: asyncio.Task[None] | None = None
        self._done = False
        self._failed = False  # a store call failed: nothing of this upload is kept
        self.written = 0

    async def begin(self) -> None:
        """Nothing to do: the object changes only at ``commit`` (or a partial close)."""

    async def start(self) -> None:
        """Put the kept head in place before the first byte arrives: a large head is copied
        inside the store; a head below S3's 5 MiB part minimum is read back into the first
        part (bounded by that minimum)."""
        if self._keep <= 0:
            return
        if self._keep < MIN_PART:
            match = {"IfMatch": self._etag} if self._etag else {}
            response = await self._conn.call(
                "get_object", Key=self._key, Range=f"bytes=0-{self._keep - 1}", **match
            )
            async with response["Body"] as body:
                head = await self._conn.guarded("get_object", body.read())
            if len(head) != self._keep:
                raise err.LocalError("S3 storage returned a short read; nothing was changed.")
            self._buffer += head
            return
        await self._begin()
        match = {"CopySourceIfMatch": self._etag} if self._etag else {}
        for first, last in copy_ranges(self._keep):
            number = len(self._parts) + 1
            result = await self._conn.call(
                "upload_part_copy",
                Key=self._key,
                UploadId=self._upload_id,
                PartNumber=number,
                CopySource={"Bucket": self._conn.location.bucket, "Key": self._key},
                CopySourceRange=f"bytes={first}-{last}",
                **match,
            )
            self._parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})

    async def _begin(self) -> None:
        if self._upload_id is None:
            result = await self._conn.call("create_multipart_upload", Key=self._key)
            self._upload_id = result["UploadId"]

    async def write(self, data: bytes | memoryview) -> None:
        if self._done:
            raise err.LocalError("The upload was already finished.")
        view = memoryview(data)
        self.written += len(view)
        while view:
            room = self._part_size - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= self._part_size:
                part, self._buffer = bytes(self._buffer), bytearray()
                try:
                    await self._send(part)
                except err.FtpError:
                    self._failed = True
                    raise

    async def _send(self, part: bytes) -> None:
        """Start sending one part; waits for the one before (so two parts at most are held)."""
        # bytes, not the bytearray: botocore streams bytes from a BytesIO (aiohttp warns that
        # a large raw bytearray body is written in one go)
        await self._settle()
        await self._begin()
        number = len(self._parts) + 1
        entry: dict[str, Any] = {"PartNumber": number}
        self._parts.append(entry)

        async def upload() -> None:
            result = await self._conn.call(
                "upload_part", Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=part
            )
            entry["ETag"] = result["ETag"]

        self._pending = asyncio.ensure_future(upload())

    async def _settle(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    async def commit(self) -> None:
        if self._done:
            return
        try:
            await self._commit()
        except err.FtpError:
            self._failed = True
            raise
        self._buffer = bytearray()
        self._done = True

    async def _commit(self) -> None:
        await self._settle()
        if self._upload_id is None:  # smaller than one part: one PUT
            await self._conn.call("put_object", Key=self._key, Body=bytes(self._buffer))
        else:
            if self._buffer or not self._parts:
                part, self._buffer = bytes(self._buffer), bytearray()
                await self._send(part)
                await self._settle()
            await self._conn.call(
                "complete_multipart_upload",
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    async def close(self, *, discard: bool = False) -> None:
        if self._done:
            return
        try:
            if self._keep_partial and self.written and not discard and not self._failed:
                await self.commit()
                return
        except err.FtpError as exc:
            log.warning("S3 upload of %s could not keep its partial bytes: %s", self._key, exc)
        self._done = True
        self._buffer = bytearray()
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        if self._upload_id is not None:
            try:
                await self._conn.call(
                    "abort_multipart_upload", Key=self._key, UploadId=self._upload_id
                )
            except err.FtpError as exc:  # the store is down: its lifecycle rules reap it
                log.warning("S3 upload %s of %s not aborted: %s", self._upload_id, self._key, exc)


async def copy_object(
    conn: S3Connection, source: str, target: str, size: int, *, new: bool = False
) -> None:
    """A server-side copy: one CopyObject, or a multipart copy above S3's 5 GiB limit.
    ``new``: only where no object is at ``target`` (If-None-Match: *, checked by the store as
    it writes; ``AlreadyExists`` otherwise, and nothing is written)."""
    bucket = conn.location.bucket
    condition = {"IfNoneMatch": "*"} if new else {}
    try:
        await _copy(conn, bucket, source, target, size, condition)
    except err.FileBusy:  # PreconditionFailed: only a condition of ours can fail
        if not new:
            raise
        raise err.AlreadyExists() from None


async def _copy(
    conn: S3Connection, bucket: str, source: str, target: str, size: int, condition: dict[str, str]
) -> None:
    if size <= MAX_COPY_PART:
        await conn.call(
            "copy_object", Key=target, CopySource={"Bucket": bucket, "Key": source}, **condition
        )
        return
    upload = await conn.call("create_multipart_upload", Key=target)
    upload_id, parts = upload["UploadId"], []
    try:
        for number, (first, last) in enumerate(copy_ranges(size), 1):
            result = await conn.call(
                "upload_part_copy",
                Key=target,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": bucket, "Key": source},
                CopySourceRange=f"bytes={first}-{last}",
            )
            parts.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
        await conn.call(
            "complete_multipart_upload",
            Key=target,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **condition,
        )
    except BaseException:
        with contextlib.suppress(err.FtpError):
            await conn.call("abort_multipart_upload", Key=target, UploadId=upload_id)
        raise
