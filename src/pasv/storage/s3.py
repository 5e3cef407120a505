"""S3Storage: virtual paths as keys under one prefix of a bucket; directories are prefixes,
an empty one is kept by a zero-byte marker object named ``dir/``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from pasv.protocol import errors as err
from pasv.protocol.listing import FileFacts
from pasv.protocol.texts import said
from pasv.storage.base import (
    IN_PLACE,
    Capabilities,
    UploadTarget,
    WriteMode,
    check_range,
    check_resume,
    into_itself,
    new_digest,
    split_virtual,
)
from pasv.storage.s3client import S3Connection, error_code
from pasv.storage.s3read import S3ReadHandle
from pasv.storage.s3write import S3WriteHandle, copy_object

CHUNK = 1024 * 1024
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
# the refusals' texts (in the reply catalogue: server/lang/*.toml, ``replies``)
_RENAME_LIMIT = (
    "Renaming this directory would copy more than {limit} objects one by one on S3; rename the "
    "files in it, or ask the operator to raise storage.s3.rename_limit."
)


def _mtime(value: Any) -> float:
    return value.timestamp() if value is not None else time.time()


class S3Storage:
    """Keys ``<root>/<path>``; every refusal is one of ours (451 when the store fails)."""

    capabilities = Capabilities(
        resume=True,  # REST+STOR: the kept head is copied inside the store
        append=True,  # APPE: likewise
        atomic_rename=False,  # a rename is a copy and a delete
        set_mtime=False,  # an object keeps the time it was written
        chmod=False,  # no permission bits
        sendfile=False,  # bytes come over HTTP, not from a file
    )

    def __init__(self, conn: S3Connection, root: str = "") -> None:
        self._conn = conn
        self._root = [p for p in root.split("/") if p]

    # --- names ---------------------------------------------------------------------------
    def _key(self, path: str) -> str:
        return "/".join([*self._root, *split_virtual(path)])

    def _is_root(self, path: str) -> bool:
        return not split_virtual(path)

    @staticmethod
    def _prefix(key: str) -> str:
        return key + "/" if key else ""

    @staticmethod
    def _parent(path: str) -> str:
        parts = split_virtual(path)
        return "/" + "/".join(parts[:-1])

    def capabilities_at(self, path: str) -> Capabilities:
        return self.capabilities

    def identity(self, path: str) -> str:
        return f"s3://{self._conn.location.where}/{self._key(path)}"

    def upload_target(self, path: str) -> UploadTarget:
        return UploadTarget(path, self.identity(path))

    # --- facts ---------------------------------------------------------------------------
    async def _head(self, key: str) -> dict[str, Any] | None:
        if not key:
            return None
        try:
            result: dict[str, Any] = await self._conn.call("head_object", Key=key)
        except err.PathNotFound:
            return None
        return result

    async def _first_below(self, key: str) -> dict[str, Any] | None:
        """The first object under ``key/`` (a marker or any content), or None."""
        listed = await self._conn.call("list_objects_v2", Prefix=self._prefix(key), MaxKeys=1)
        contents = listed.get("Contents") or []
        return contents[0] if contents else {} if listed.get("CommonPrefixes") else None

    async def stat(self, path: str) -> FileFacts:
        parts = split_virtual(path)
        name = parts[-1] if parts else "/"
        key = self._key(path)
        if not parts:
            return FileFacts(name, "dir", 0, time.time(), 0o755, nlink=2)
        head = await self._head(key)
        if head is not None:
            return FileFacts(
                name, "file", head["ContentLength"], _mtime(head.get("LastModified")), 0o644
            )
        first = await self._first_below(key)
        if first is None:
            if len(parts) > 1 and await self._head(self._key(self._parent(path))) is not None:
                raise err.NotADirectory()
            raise err.PathNotFound()
        return FileFacts(name, "dir", 0, _mtime(first.get("LastModified")), 0o755, nlink=2)

    async def _need_dir(self, path: str) -> None:
        if self._is_root(path):
            return
        if (await self.stat(path)).kind != "dir":
            raise err.NotADirectory()

    async def _pages(self, prefix: str, delimiter: bool) -> AsyncIterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Prefix": prefix}
            if delimiter:
                params["Delimiter"] = "/"
            if token:
                params["ContinuationToken"] = token
            page: dict[str, Any] = await self._conn.call("list_objects_v2", **params)
            yield page
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    async def listdir(self, path: str) -> list[FileFacts]:
        prefix = self._prefix(self._key(path))
        entries: dict[str, FileFacts] = {}
        seen = False  # anything at all under the prefix, the marker included
        now = time.time()
        async for page in self._pages(prefix, delimiter=True):
            for common in page.get("CommonPrefixes") or []:
                seen = True
                name = common["Prefix"][len(prefix) :].rstrip("/")
                if name:
                    entries[name] = FileFacts(name, "dir", 0, now, 0o755, nlink=2)
            for item in page.get("Contents") or []:
                seen = True
                name = item["Key"][len(prefix) :]
                if name and "/" not in name and name not in entries:
                    mtime = _mtime(item.get("LastModified"))
                    entries[name] = FileFacts(name, "file", item["Size"], mtime, 0o644)
        if not seen and not self._is_root(path):
            if await self._head(self._key(path)) is not None:
                raise err.NotADirectory()
            raise err.PathNotFound()
        return sorted(entries.values(), key=lambda f: f.name)

    # --- reading -------------------------------------------------------------------------
    async def open_read(self, path: str, offset: int = 0) -> S3ReadHandle:
        if offset < 0:
            raise err.ArgumentError("Invalid restart position.")
        key = self._key(path)
        if not key:
            raise err.IsADirectory()
        params: dict[str, Any] = {"Key": key}
        if offset:
            params["Range"] = f"bytes={offset}-"
        try:
            response = await self._conn.call("get_object", **params)
        except err.PathNotFound:
            if (await self.stat(path)).kind == "dir":
                raise err.IsADirectory() from None
            raise
        except err.LocalError as exc:
            if error_code(exc.__cause__ or exc) != "InvalidRange":
                raise
            head = await self._head(key)  # at or past the end: no bytes to send
            if head is None:
                raise err.PathNotFound() from None
            return S3ReadHandle(self._conn, head["ContentLength"], None)
        size = response["ContentLength"]
        content_range = response.get("ContentRange")
        if content_range and "/" in content_range:
            size = int(content_range.rsplit("/", 1)[1])
        return S3ReadHandle(self._conn, size, response["Body"])

    async def digest(
        self, path: str, algorithm: str, start: int = 0, end: int | None = None
    ) -> str:
        hasher = new_digest(algorithm)
        check_range(start, end)
        facts = await self.stat(path)
        if facts.kind != "file":
            raise err.IsADirectory()
        stop = facts.size if end is None else min(end, facts.size)
        if stop > start:
            response = await self._conn.call(
                "get_object", Key=self._key(path), Range=f"bytes={start}-{stop - 1}"
            )
            handle = S3ReadHandle(self._conn, facts.size, response["Body"])
            try:
                while chunk := await handle.read(CHUNK):
                    hasher.update(chunk)
            finally:
                await handle.close()
        return hasher.hexdigest()

    # --- writing -------------------------------------------------------------------------
    async def open_write(
        self,
        path: str,
        *,
        offset: int = 0,
        append: bool = False,
        exclusive: bool = False,
        mode: WriteMode = IN_PLACE,
        target: UploadTarget | None = None,  # nothing found on the way to go by
    ) -> S3WriteHandle:
        if offset < 0:
            raise err.ArgumentError("Invalid restart position.")
        if self._is_root(path):
            raise err.IsADirectory()
        key = self._key(path)
        head = await self._head(key)
        if head is None:
            if await self._first_below(key) is not None:
                raise err.IsADirectory()
            await self._need_dir(self._parent(path))
        elif exclusive:
            raise err.AlreadyExists()
        size = head["ContentLength"] if head is not None else 0
        keep = size if append else offset
        check_resume(keep, size)
        etag = head.get("ETag") if head is not None and keep else None
        # written in place (the standard mode), what arrived of a broken upload stays, as on
        # a disk, so REST can resume it; atomic: only a committed upload replaces the object
        keep_partial = mode.keep_partial or not mode.atomic
        handle = S3WriteHandle(self._conn, key, keep=keep, etag=etag, keep_partial=keep_partial)
        try:
            await handle.start()
        except BaseException:
            await handle.close(discard=True)
            raise
        return handle

    async def mkdir(self, path: str) -> None:
        if self._is_root(path):
            raise err.AlreadyExists()
        key = self._key(path)
        if await self._head(key) is not None or await self._first_below(key) is not None:
            raise err.AlreadyExists()
        await self._need_dir(self._parent(path))
        await self._conn.call("put_object", Key=self._prefix(key), Body=b"")

    async def _keep_parent(self, path: str) -> None:
        """After the last entry of a directory went, its marker keeps the directory."""
        parent = self._parent(path)
        if self._is_root(parent):
            return
        key = self._key(parent)
        if await self._first_below(key) is None:
            await self._conn.call("put_object", Key=self._prefix(key), Body=b"")

    async def rmdir(self, path: str) -> None:
        if self._is_root(path):
            raise err.PermissionDenied("The root directory cannot be changed.")
        await self._need_dir(path)
        marker = self._prefix(self._key(path))
        listed = await self._conn.call("list_objects_v2", Prefix=marker, MaxKeys=2)
        if any(item["Key"] != marker for item in listed.get("Contents") or []):
            raise err.DirectoryNotEmpty()
        await self._conn.call("delete_object", Key=marker)
        await self._keep_parent(path)

    async def delete(self, path: str) -> None:
        if self._is_root(path):
            raise err.IsADirectory()
        key = self._key(path)
        if await self._head(key) is None:
            if await self._first_below(key) is not None:
                raise err.IsADirectory()
            raise err.PathNotFound()
        await self._conn.call("delete_object", Key=key)
        await self._keep_parent(path)

    # --- renames: copy, then delete ------------------------------------------------------
    async def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start : start + _DELETE_BATCH]]
            await self._conn.call("delete_objects", Delete={"Objects": batch, "Quiet": True})

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> None:
        if self._is_root(src) or self._is_root(dst):
            raise err.PermissionDenied("The root directory cannot be changed.")
        source = await self.stat(src)
        await self._need_dir(self._parent(dst))
        s, d = self._key(src), self._key(dst)
        if s == d:
            return
        if d.startswith(s + "/"):
            raise into_itself()
        try:
            target: FileFacts | None = await self.stat(dst)
        except err.PathNotFound:
            target = None
        if target is not None and not replace:
            raise err.AlreadyExists()
        if source.kind == "file":
            if target is not None and target.kind == "dir":
                raise err.IsADirectory()
            # not replacing: the store refuses an object made at d since (If-None-Match)
            await copy_object(self._conn, s, d, source.size, new=not replace)
            await self._conn.call("delete_object", Key=s)
            await self._keep_parent(src)
            return
        if target is not None and target.kind == "file":
            raise err.NotADirectory()
        if target is not None and await self.listdir(dst):
            raise err.DirectoryNotEmpty()
        await self._rename_dir(src, s, d)

    async def _rename_dir(self, src: str, s: str, d: str) -> None:
        """Copy every object under the directory, then delete the originals: bounded by
        ``rename_limit`` objects; a failure part way deletes the copies, never an original."""
        limit = self._conn.location.rename_limit
        objects: list[tuple[str, int]] = []
        async for page in self._pages(self._prefix(s), delimiter=False):
            objects += [(item["Key"], item["Size"]) for item in page.get("Contents") or []]
            if len(objects) > limit:
                raise err.FileUnavailable(
                    said("replies", "storage.s3_rename_limit", _RENAME_LIMIT, limit=limit)
                )
        copied: list[str] = []
        try:
            for key, size in objects:
                target = d + key[len(s) :]
                if key.endswith("/") and not size:  # a directory marker: made anew
                    await self._conn.call("put_object", Key=target, Body=b"")
                else:
                    await copy_object(self._conn, key, target, size)
                copied.append(target)
        except BaseException:
            with contextlib.suppress(err.FtpError):
                await self._delete_keys(copied)
            raise
        await self._delete_keys([key for key, _ in objects if not key.endswith("/")])
        # directories one by one, deepest first: some stores (SeaweedFS) keep a folder that a
        # batch delete emptied, and drop it only when its own key is deleted
        folders = {s + "/"}
        for key, _ in objects:
            parts = key[len(s) + 1 :].split("/")[:-1]
            folders.update(s + "/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
        for folder in sorted(folders, key=lambda k: (-k.count("/"), k)):
            await self._conn.call("delete_object", Key=folder)
        await self._keep_parent(src)

    # --- what S3 cannot do ---------------------------------------------------------------
    async def owner(self, path: str) -> str | None:
        return None  # not kept: object metadata can only be set by rewriting the object

    async def set_owner(self, path: str, user: str) -> None:
        return None

    async def set_mtime(self, path: str, mtime: float) -> None:
        await self.stat(path)
        raise err.PermissionDenied(
            "S3 storage cannot set modification times; an object keeps the time it was written."
        )

    async def chmod(self, path: str, mode: int) -> None:
        await self.stat(path)
        raise err.PermissionDenied("S3 storage keeps no permission bits.")
