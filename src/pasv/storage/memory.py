"""MemoryStorage: an in-memory Storage with the same refusals as LocalStorage, for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pasv.protocol import errors as err
from pasv.protocol.listing import FileFacts
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


def _key(path: str) -> str:
    return "/" + "/".join(split_virtual(path))


def _parent(key: str) -> str:
    return key.rsplit("/", 1)[0] or "/"


def _check_offset(offset: int) -> None:
    if offset < 0:
        raise err.ArgumentError("Invalid restart position.")


@dataclass(slots=True)
class MemoryReadHandle:
    """A snapshot of a file's bytes (a download reads the file as it was when it was opened);
    no real file, so ``descriptor`` is None."""

    data: bytes
    pos: int
    descriptor: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def changed(self) -> bool:
        """Never: the handle reads the copy made when it was opened, whatever is written since."""
        return False

    async def close(self) -> None: ...


@dataclass(slots=True)
class MemoryWriteHandle:
    """Writes into the stored bytearray at a position (or at its end when appending); an atomic
    upload writes into its own bytearray, put in place by ``publish`` at commit. In place, the
    cut a STOR makes is left to ``begin`` (see ``LocalWriteHandle``): a handle closed before
    it leaves the file as it was, and removes one its open made."""

    buf: bytearray
    pos: int
    append: bool
    written: int = 0
    publish: Callable[[], None] | None = None
    keep_partial: bool = False
    undo: Callable[[], None] | None = None  # in place: what ``close(discard=True)`` does
    start: Callable[[], None] | None = None  # in place: the cut ``begin`` makes
    unmake: Callable[[], None] | None = None  # in place: removes the file the open made

    async def begin(self) -> None:
        start, self.start, self.unmake = self.start, None, None
        if start is not None:
            start()

    async def write(self, data: bytes | memoryview) -> None:
        await self.begin()
        raw = bytes(data)
        pos = len(self.buf) if self.append else self.pos
        if pos > len(self.buf):
            self.buf.extend(bytes(pos - len(self.buf)))
        self.buf[pos : pos + len(raw)] = raw
        self.pos = pos + len(raw)
        self.written += len(raw)

    async def commit(self) -> None:
        await self.begin()
        if self.publish is not None:
            self.publish()
            self.publish = None

    async def close(self, *, discard: bool = False) -> None:
        if self.publish is not None and self.keep_partial and self.written and not discard:
            self.publish()
        self.publish = None
        undo, self.undo = self.undo, None
        unmake, self.unmake = self.unmake, None
        if self.start is not None:  # never begun: only a file this open made goes
            self.start = None
            if unmake is not None:
                unmake()
        elif discard and undo is not None:
            undo()


class MemoryStorage:
    """A tree of bytearrays keyed by normalised virtual path."""

    capabilities = Capabilities(sendfile=False, chmod=False)

    def __init__(self) -> None:
        self._files: dict[str, bytearray] = {}
        self._dirs: set[str] = {"/"}
        self._mtimes: dict[str, float] = {"/": time.time()}
        # who uploaded a file, by its bytearray (held here, so its id stays its own): a rename
        # moves the bytearray, and the owner with it
        self._owners: dict[int, tuple[bytearray, str]] = {}

    def _facts(self, key: str) -> FileFacts:
        name = key.rsplit("/", 1)[1] or "/"
        if key in self._dirs:
            return FileFacts(name, "dir", 0, self._mtimes[key], 0o755, nlink=2)
        if key in self._files:
            return FileFacts(name, "file", len(self._files[key]), self._mtimes[key], 0o644)
        self._need_dir(_parent(key))
        raise err.PathNotFound()

    def _need_dir(self, key: str) -> None:
        if key in self._dirs:
            return
        if key in self._files:
            raise err.NotADirectory()
        if key != "/":
            self._need_dir(_parent(key))
        raise err.PathNotFound()

    def _children(self, key: str) -> list[str]:
        return [k for k in (*self._dirs, *self._files) if k != "/" and _parent(k) == key]

    async def stat(self, path: str) -> FileFacts:
        return self._facts(_key(path))

    async def listdir(self, path: str) -> list[FileFacts]:
        key = _key(path)
        self._need_dir(key)
        return sorted((self._facts(k) for k in self._children(key)), key=lambda f: f.name)

    def _file(self, key: str) -> bytearray:
        if key in self._dirs:
            raise err.IsADirectory()
        if key not in self._files:
            self._facts(key)  # raises the right refusal
        return self._files[key]

    async def open_read(self, path: str, offset: int = 0) -> MemoryReadHandle:
        _check_offset(offset)
        return MemoryReadHandle(bytes(self._file(_key(path))), offset)

    async def open_write(
        self,
        path: str,
        *,
        offset: int = 0,
        append: bool = False,
        exclusive: bool = False,
        mode: WriteMode = IN_PLACE,
        target: UploadTarget | None = None,  # nothing found on the way to go by
    ) -> MemoryWriteHandle:
        key = _key(path)
        _check_offset(offset)
        if key in self._dirs:
            raise err.IsADirectory()
        if key in self._files and exclusive:
            raise err.AlreadyExists()
        self._need_dir(_parent(key))
        if not append:
            check_resume(offset, len(self._files.get(key, b"")))
        if mode.atomic:
            current = self._files.get(key, bytearray())
            aside = bytearray(current if append else current[:offset])

            def publish() -> None:
                self._files[key] = aside
                self._mtimes[key] = time.time()

            return MemoryWriteHandle(aside, offset, append, 0, publish, mode.keep_partial)
        existed = key in self._files
        buf = self._files.setdefault(key, bytearray())
        if not existed:
            self._mtimes[key] = time.time()
        kept = (len(buf) if append else offset) if existed and (append or offset) else None

        def start() -> None:  # the data connection is up
            if not append:
                del buf[offset:]  # a resume ends the file at what comes after the offset
            self._mtimes[key] = time.time()

        def undo() -> None:  # a discarded upload: cut back to what it kept, or removed
            if kept is not None:
                del buf[kept:]
            elif self._files.get(key) is buf:
                del self._files[key], self._mtimes[key]

        unmake = None if existed else undo
        return MemoryWriteHandle(buf, offset, append, undo=undo, start=start, unmake=unmake)

    def capabilities_at(self, path: str) -> Capabilities:
        return self.capabilities

    def identity(self, path: str) -> str:
        return f"memory:{id(self):x}:{_key(path)}"

    def upload_target(self, path: str) -> UploadTarget:
        return UploadTarget(path, self.identity(path))

    async def mkdir(self, path: str) -> None:
        key = _key(path)
        if key in self._dirs or key in self._files:
            raise err.AlreadyExists()
        self._need_dir(_parent(key))
        self._dirs.add(key)
        self._mtimes[key] = time.time()

    async def rmdir(self, path: str) -> None:
        key = _key(path)
        if key == "/":
            raise err.PermissionDenied("The root directory cannot be changed.")
        self._need_dir(key)
        if self._children(key):
            raise err.DirectoryNotEmpty()
        self._dirs.discard(key)
        del self._mtimes[key]

    async def delete(self, path: str) -> None:
        key = _key(path)
        self._owners.pop(id(self._file(key)), None)
        del self._files[key], self._mtimes[key]

    async def owner(self, path: str) -> str | None:
        buf = self._files.get(_key(path))
        entry = self._owners.get(id(buf)) if buf is not None else None
        return entry[1] if entry is not None and entry[0] is buf else None

    async def set_owner(self, path: str, user: str) -> None:
        buf = self._files.get(_key(path))
        if buf is not None:
            self._owners[id(buf)] = (buf, user)

    async def rename(self, src: str, dst: str, *, replace: bool = True) -> None:
        # nothing awaited: the check and the move are one step of the event loop
        s, d = _key(src), _key(dst)
        if "/" in (s, d):
            raise err.PermissionDenied("The root directory cannot be changed.")
        self._facts(s)
        self._need_dir(_parent(d))
        if not replace and (d in self._dirs or d in self._files):
            raise err.AlreadyExists()
        if d == s:
            return
        if d.startswith(s + "/"):
            raise into_itself()
        if d in self._dirs:
            if s in self._files:
                raise err.IsADirectory()
            if self._children(d):
                raise err.DirectoryNotEmpty()
        elif d in self._files and s in self._dirs:
            raise err.NotADirectory()
        self._dirs.discard(d)
        self._files.pop(d, None)
        moved = [k for k in (*self._dirs, *self._files) if k == s or k.startswith(s + "/")]
        for old in moved:
            new = d + old[len(s) :]
            if old in self._dirs:
                self._dirs.remove(old)
                self._dirs.add(new)
            else:
                self._files[new] = self._files.pop(old)
            self._mtimes[new] = self._mtimes.pop(old)

    async def set_mtime(self, path: str, mtime: float) -> None:
        key = _key(path)
        self._facts(key)
        self._mtimes[key] = mtime

    async def chmod(self, path: str, mode: int) -> None:
        self._facts(_key(path))
        raise err.PermissionDenied("This storage keeps no permission bits.")

    async def digest(
        self, path: str, algorithm: str, start: int = 0, end: int | None = None
    ) -> str:
        hasher = new_digest(algorithm)
        check_range(start, end)
        hasher.update(bytes(self._file(_key(path))[start:end]))
        return hasher.hexdigest()
