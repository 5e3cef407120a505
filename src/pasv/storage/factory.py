"""Which storage a user gets: the home on the local disk or under an S3 prefix, plus the
virtual folders configured for that user. The one place a backend is chosen."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from pasv.protocol import errors as err
from pasv.storage.base import Storage
from pasv.storage.local import LocalStorage
from pasv.storage.mounts import MountedStorage
from pasv.storage.s3 import S3Storage
from pasv.storage.s3client import S3Connection, S3Location

Backend = Literal["local", "s3"]


@dataclass(frozen=True, slots=True)
class FolderSpec:
    """A virtual folder ``/name``: a host folder (local) or a key prefix (s3); ``{user}`` in
    ``location`` is the user's name; ``users`` empty means every user."""

    name: str
    backend: Backend
    location: str
    users: tuple[str, ...] = ()

    def applies_to(self, user: str) -> bool:
        return not self.users or user in self.users


@dataclass(frozen=True, slots=True)
class StorageSpec:
    backend: Backend = "local"
    s3: S3Location | None = None
    s3_prefix: str = ""  # users' homes on S3 are <s3_prefix>/<home>
    folders: tuple[FolderSpec, ...] = ()

    @property
    def per_user(self) -> bool:
        """Does the storage depend on the user's name, not only on the home?"""
        return bool(self.folders)


def _safe_name(user: str) -> str:
    if not user or "/" in user or user in (".", "..") or "\0" in user:
        raise err.PermissionDenied("This user name cannot name a storage folder.")
    return user


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class StorageFactory:
    """Storages per user; one S3 client per process, shared by every user's storage."""

    def __init__(self, spec: StorageSpec, files_root: Path) -> None:
        self.spec = spec
        self._files_root = files_root
        needs_s3 = spec.backend == "s3" or any(f.backend == "s3" for f in spec.folders)
        if needs_s3 and spec.s3 is None:
            raise ValueError("S3 storage is used but no S3 location is configured")
        self._s3 = S3Connection(spec.s3) if needs_s3 and spec.s3 is not None else None

    def s3_home_key(self, home: Path, *, anonymous: bool = False) -> str:
        """The key prefix of a home: its path below the files root (an absolute home outside
        it: the path itself), below the configured prefix."""
        if anonymous:
            return _join(self.spec.s3_prefix, "anonymous")
        try:
            relative = PurePosixPath(os.fspath(home)).relative_to(os.fspath(self._files_root))
        except ValueError:
            relative = PurePosixPath(os.fspath(home))
        return _join(self.spec.s3_prefix, *relative.parts)

    async def for_user(self, user: str, home: Path, *, anonymous: bool = False) -> Storage:
        base: Storage
        if self.spec.backend == "s3":
            assert self._s3 is not None
            base = S3Storage(self._s3, self.s3_home_key(home, anonymous=anonymous))
        else:
            await asyncio.to_thread(home.mkdir, parents=True, exist_ok=True)
            base = LocalStorage(home)
        folders = [f for f in self.spec.folders if f.applies_to(user)]
        if not folders:
            return base
        mounted: dict[str, Storage] = {}
        for folder in folders:
            location = folder.location.replace("{user}", _safe_name(user))
            if folder.backend == "s3":
                assert self._s3 is not None
                mounted[folder.name] = S3Storage(self._s3, location)
            else:
                path = Path(location)
                await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
                mounted[folder.name] = LocalStorage(path, mounted_at="/" + folder.name)
        return MountedStorage(base, mounted)

    async def aclose(self) -> None:
        if self._s3 is not None:
            await self._s3.aclose()
