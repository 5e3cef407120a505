"""The storage interface: virtual paths in, FileFacts and handles out, only FtpError raised."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pasv.protocol.errors import (
    ArgumentError,
    FileUnavailable,
    OutsideJail,
    ParameterNotImplemented,
)
from pasv.protocol.listing import FileFacts
from pasv.protocol.texts import said

__all__ = [
    "DIGEST_ALGORITHMS",
    "IN_PLACE",
    "Capabilities",
    "Digest",
    "ReadHandle",
    "Storage",
    "UploadTarget",
    "WriteHandle",
    "WriteMode",
    "check_range",
    "check_resume",
    "into_itself",
    "new_digest",
    "split_virtual",
]

DIGEST_ALGORITHMS = ("SHA-256", "SHA-1", "SHA-512", "MD5", "CRC32")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, so a handler refuses cleanly instead of failing midway."""

    resume: bool = True
    append: bool = True
    atomic_rename: bool = True
    set_mtime: bool = True
    chmod: bool = True
    sendfile: bool = True


@dataclass(frozen=True, slots=True)
class WriteMode:
    """How an upload reaches its name (the server's ``[uploads]`` settings)."""

    atomic: bool = False  # write aside; the target changes only at commit, in one rename
    keep_partial: bool = False  # atomic: an upload closed uncommitted still replaces the target
    fsync: bool = False  # commit waits until the bytes (and the new name) are on disk


IN_PLACE = WriteMode()  # the default: write the target itself, nothing to rename


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where an upload is about to go, found by ``Storage.upload_target``: ``identity`` names
    the entry for the files-in-use lock (what ``Storage.identity`` answers for ``path``). The
    caller hands it back to ``open_write`` (``target=``); a store may extend it with what it
    found on the way, for the open to go by instead of looking again, and must treat it as a
    hint: one for another path or store, or stale by then, is looked past."""

    path: str
    identity: str


@runtime_checkable
class ReadHandle(Protocol):
    """An open file for download; ``descriptor`` is sendfile-able (None when not on disk)."""

    @property
    def size(self) -> int: ...

    @property
    def descriptor(self) -> int | None: ...

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes from the current position; ``b""`` at end of file."""
        ...

    def changed(self) -> bool:
        """Whether the bytes read so far may not all be of one version of the file: another
        writer changed it in place since it was opened. Asked once the last byte went out: a
        download whose file changed ends in 451, never in 226. A handle that reads one version
        whatever happens (a snapshot, one S3 GET) answers False; no store does more I/O for
        the answer than an ``fstat``."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class WriteHandle(Protocol):
    """An open file for upload; ``written`` counts bytes written through this handle."""

    @property
    def written(self) -> int: ...

    async def begin(self) -> None:
        """The data connection is up: from here the upload may change the target. Opening
        refuses what it must (a missing folder, no permission, REST beyond the end) and changes
        nothing else (at most a new, empty file where there was none): a STOR in place cuts
        the file here, or at the latest at the first ``write`` or ``commit``. Closed before
        this, the handle leaves the target as it was and removes a file its open made."""
        ...

    async def write(self, data: bytes | memoryview) -> None:
        """Write all of ``data`` (short writes are retried)."""
        ...

    async def commit(self) -> None:
        """The upload is whole: make it the file under its name (see ``WriteMode``)."""
        ...

    async def close(self, *, discard: bool = False) -> None:
        """Release the file; an uncommitted atomic upload is dropped (``discard``: even when
        ``keep_partial`` would keep it). ``discard`` takes back what the upload wrote: an
        atomic (or S3) upload leaves the previous file as it was; one written in place cuts the
        file back to the bytes it kept in front (an APPE's old file, a resumed STOR's first n)
        or, when it kept none, removes it."""
        ...


@runtime_checkable
class Storage(Protocol):
    """One root of virtual absolute POSIX paths ("/a/b"); raises only ``pasv.protocol.errors``."""

    @property
    def capabilities(self) -> Capabilities:
        """What the whole tree can do (with virtual folders: what every one of them can)."""
        ...

    def capabilities_at(self, path: str) -> Capabilities:
        """What the storage can do at ``path`` (a virtual folder's own storage decides there);
        a storage of one kind answers ``capabilities``."""
        ...

    async def stat(self, path: str) -> FileFacts: ...

    async def listdir(self, path: str) -> list[FileFacts]:
        """The entries of a directory, sorted by name."""
        ...

    async def open_read(self, path: str, offset: int = 0) -> ReadHandle: ...

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
        """Truncate (default), resume at ``offset``, append, or create only if new (STOU).
        ``target``: what ``upload_target(path)`` answered just before (the lock's name)."""
        ...

    def identity(self, path: str) -> str:
        """One name for the entry at ``path`` whichever session, user or worker reaches it
        (for files-in-use locks); raises like ``stat`` for a path outside the jail."""
        ...

    def upload_target(self, path: str) -> UploadTarget:
        """``identity(path)`` for an upload about to open ``path``, with whatever the store
        found on the way that its ``open_write(path, target=...)`` may go by. Holds nothing
        in the store: the caller carries it (concurrent uploads share the store)."""
        ...

    async def mkdir(self, path: str) -> None: ...

    async def rmdir(self, path: str) -> None: ...

    async def delete(self, path: str) -> None: ...

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> None:
        """Move ``src`` to ``dst``; ``replace=False``: only where nothing is at ``dst``
        (``AlreadyExists`` otherwise, nothing changed), decided in the same step as the move
        where the store can (docs/storage.md: a local directory without RENAME_NOREPLACE and
        an S3 directory are checked first, then moved)."""
        ...

    async def set_mtime(self, path: str, mtime: float) -> None: ...

    async def owner(self, path: str) -> str | None:
        """The user who uploaded the file at ``path`` (None: not known, or a store that keeps
        no owners); the quota usage of a deleted file goes back to that user."""
        ...

    async def set_owner(self, path: str, user: str) -> None:
        """Note ``user`` as the one who uploaded the file at ``path``; kept with the file (its
        renames keep it), never a refusal (a store or file system that cannot keep it forgets)."""
        ...

    async def chmod(self, path: str, mode: int) -> None:
        """Set permission bits (SITE CHMOD); storage without modes raises PermissionDenied."""
        ...

    async def digest(
        self, path: str, algorithm: str, start: int = 0, end: int | None = None
    ) -> str:
        """Lower-case hex digest of bytes ``[start, end)``; ``end=None`` means to end of file."""
        ...


def split_virtual(path: str) -> list[str]:
    """Components of a virtual path, re-checked defensively: no NUL byte, no ``..``."""
    if "\0" in path:
        raise FileUnavailable("File name contains a NUL byte.")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise OutsideJail()
    return parts


class Digest(Protocol):
    """The part of a hashlib object a digest loop needs."""

    def update(self, data: bytes | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Crc32:
    """zlib.crc32 behind the hashlib interface."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._value = zlib.crc32(data, self._value)

    def hexdigest(self) -> str:
        return f"{self._value & 0xFFFFFFFF:08x}"


_HASHLIB_NAMES = {"SHA-256": "sha256", "SHA-1": "sha1", "SHA-512": "sha512", "MD5": "md5"}


def new_digest(algorithm: str) -> Digest:
    """A fresh hasher for a HASH algorithm name; unknown names raise ParameterNotImplemented."""
    name = algorithm.upper()
    if name == "CRC32":
        return _Crc32()
    try:
        return hashlib.new(_HASHLIB_NAMES[name], usedforsecurity=False)
    except KeyError:
        raise ParameterNotImplemented(
            said(
                "replies",
                "storage.hash_unknown",
                "Unknown hash algorithm; use one of {names}.",
                names=", ".join(DIGEST_ALGORITHMS),
            )
        ) from None


def check_range(start: int, end: int | None) -> None:
    """Refuse a negative start or an end before the start."""
    if start < 0 or (end is not None and end < start):
        raise ArgumentError("Invalid byte range.")


_BEYOND = "REST offset {offset} is beyond the end of the file ({size} bytes)."


class BeyondEnd(ArgumentError):
    """A REST offset past the end of the file; its text names the file's size, which a user
    who may not read or list the file is told without (``offset`` for that text)."""

    def __init__(self, text: str, offset: int) -> None:
        super().__init__(text)
        self.offset = offset


def check_resume(offset: int, size: int) -> None:
    """Refuse a REST offset past the end of the file: a download would have nothing to send
    from there, and an upload would leave a hole of zeros that never arrived, which its 226
    would vouch for."""
    if offset > size:
        raise BeyondEnd(
            said("replies", "transfer.rest_offset_offset_is", _BEYOND, offset=offset, size=size),
            offset,
        )


def into_itself() -> FileUnavailable:
    """The refusal of a rename that would put a directory inside itself."""
    return FileUnavailable("A directory cannot be moved into itself.")
