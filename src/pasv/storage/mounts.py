"""Virtual folders: one user's tree made of a home storage and folders of other storages
(a local folder beside an S3 prefix), each mounted at a top-level name."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from pasv.protocol import errors as err
from pasv.protocol.listing import FileFacts
from pasv.protocol.texts import said
from pasv.storage.base import (
    IN_PLACE,
    Capabilities,
    ReadHandle,
    Storage,
    UploadTarget,
    WriteHandle,
    WriteMode,
    split_virtual,
)

_VIRTUAL = "/{folder} is a virtual folder; it cannot be changed."


def _common(storages: list[Storage]) -> Capabilities:
    """What every storage of the tree can do (a handler asking cannot know which one it gets)."""
    caps = [s.capabilities for s in storages]
    return Capabilities(
        resume=all(c.resume for c in caps),
        append=all(c.append for c in caps),
        atomic_rename=all(c.atomic_rename for c in caps),
        set_mtime=all(c.set_mtime for c in caps),
        chmod=all(c.chmod for c in caps),
        sendfile=all(c.sendfile for c in caps),
    )


class MountedStorage:
    """``/name/...`` goes to the folder mounted as ``name``; everything else to the home."""

    def __init__(self, home: Storage, folders: Mapping[str, Storage]) -> None:
        for name in folders:
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"a virtual folder is one name below /, not {name!r}")
        self._home = home
        self._folders = dict(folders)
        self.capabilities = _common([home, *folders.values()])

    def _route(self, path: str) -> tuple[Storage, str, str | None]:
        """(storage, path inside it, the folder's name or None for the home)."""
        parts = split_virtual(path)
        if parts and parts[0] in self._folders:
            return self._folders[parts[0]], "/" + "/".join(parts[1:]), parts[0]
        return self._home, "/" + "/".join(parts), None

    def _mutable(self, path: str) -> tuple[Storage, str]:
        storage, inner, folder = self._route(path)
        if folder is not None and inner == "/":
            raise err.PermissionDenied(
                said("replies", "storage.virtual_folder", _VIRTUAL, folder=folder)
            )
        return storage, inner

    def capabilities_at(self, path: str) -> Capabilities:
        """The capabilities of the storage that owns ``path`` (the home's or a folder's)."""
        storage, inner, _ = self._route(path)
        return storage.capabilities_at(inner)

    async def stat(self, path: str) -> FileFacts:
        storage, inner, folder = self._route(path)
        facts = await storage.stat(inner)
        return replace(facts, name=folder) if folder is not None and inner == "/" else facts

    async def listdir(self, path: str) -> list[FileFacts]:
        storage, inner, folder = self._route(path)
        entries = await storage.listdir(inner)
        if folder is not None or inner != "/":
            return entries
        now = time.time()
        shown = {f.name: f for f in entries if f.name not in self._folders}
        for name in self._folders:  # listed without asking the folder's store
            shown[name] = FileFacts(name, "dir", 0, now, 0o755, nlink=2)
        return sorted(shown.values(), key=lambda f: f.name)

    async def open_read(self, path: str, offset: int = 0) -> ReadHandle:
        storage, inner, _ = self._route(path)
        return await storage.open_read(inner, offset)

    async def open_write(
        self,
        path: str,
        *,
        offset: int = 0,
        append: bool = False,
        exclusive: bool = False,
        mode: WriteMode = IN_PLACE,
        target: UploadTarget | None = None,
    ) -> WriteHandle:
        storage, inner = self._mutable(path)
        return await storage.open_write(
            inner, offset=offset, append=append, exclusive=exclusive, mode=mode, target=target
        )

    def identity(self, path: str) -> str:
        storage, inner, _ = self._route(path)
        return storage.identity(inner)

    def upload_target(self, path: str) -> UploadTarget:
        """The owning store's target (of the path inside it), handed back to it by open_write."""
        storage, inner, _ = self._route(path)
        return storage.upload_target(inner)

    async def mkdir(self, path: str) -> None:
        storage, inner, folder = self._route(path)
        if folder is not None and inner == "/":
            raise err.AlreadyExists()
        await storage.mkdir(inner)

    async def rmdir(self, path: str) -> None:
        storage, inner = self._mutable(path)
        await storage.rmdir(inner)

    async def owner(self, path: str) -> str | None:
        storage, inner, _ = self._route(path)
        return await storage.owner(inner)

    async def set_owner(self, path: str, user: str) -> None:
        storage, inner, _ = self._route(path)
        await storage.set_owner(inner, user)

    async def delete(self, path: str) -> None:
        storage, inner = self._mutable(path)
        await storage.delete(inner)

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> None:
        source, inner_src = self._mutable(src)
        target, inner_dst = self._mutable(dst)
        if source is not target:
            raise err.FileUnavailable(
                "Cannot rename between virtual folders on different storages; "
                "download and upload the file instead."
            )
        await source.rename(inner_src, inner_dst, replace=replace)

    async def set_mtime(self, path: str, mtime: float) -> None:
        storage, inner = self._mutable(path)
        await storage.set_mtime(inner, mtime)

    async def chmod(self, path: str, mode: int) -> None:
        storage, inner = self._mutable(path)
        await storage.chmod(inner, mode)

    async def digest(
        self, path: str, algorithm: str, start: int = 0, end: int | None = None
    ) -> str:
        storage, inner, _ = self._route(path)
        return await storage.digest(inner, algorithm, start, end)
