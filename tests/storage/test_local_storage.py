"""LocalStorage on a real directory: facts, errors, reads, writes, digests, listing speed."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    AlreadyExists,
    ArgumentError,
    DirectoryNotEmpty,
    ExceededStorage,
    FileBusy,
    FileUnavailable,
    FtpError,
    InsufficientStorage,
    IsADirectory,
    LocalError,
    NameNotAllowed,
    NotADirectory,
    ParameterNotImplemented,
    PathNotFound,
    PermissionDenied,
)
from pasv.storage.base import Capabilities, ReadHandle, Storage, WriteHandle
from pasv.storage.local import LocalStorage, translate_os_error


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"hello world")
    (root / "dir").mkdir()
    (root / "dir" / "nested.bin").write_bytes(b"\x00" * 10)
    return root


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


def test_satisfies_the_protocol(storage: LocalStorage) -> None:
    assert isinstance(storage, Storage)
    assert storage.capabilities == Capabilities(True, True, True, True, True)


async def test_stat_file_and_root(storage: LocalStorage, root: Path) -> None:
    facts = await storage.stat("/a.txt")
    st = os.stat(root / "a.txt")
    assert (facts.name, facts.kind, facts.size) == ("a.txt", "file", 11)
    assert facts.mode == st.st_mode & 0o7777
    assert facts.mtime == st.st_mtime
    assert facts.unique == f"{st.st_dev:x}g{st.st_ino:x}"
    top = await storage.stat("/")
    assert (top.name, top.kind) == ("/", "dir")
    assert (await storage.stat("/dir/")).name == "dir"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.stat("/missing"), PathNotFound),
        (lambda s: s.stat("/a.txt/x"), NotADirectory),
        (lambda s: s.listdir("/a.txt"), NotADirectory),
        (lambda s: s.listdir("/missing"), PathNotFound),
        (lambda s: s.open_read("/dir"), IsADirectory),
        (lambda s: s.open_read("/missing"), PathNotFound),
        (lambda s: s.open_write("/dir"), IsADirectory),
        (lambda s: s.open_write("/missing/x"), PathNotFound),
        (lambda s: s.open_write("/a.txt", exclusive=True), AlreadyExists),
        (lambda s: s.delete("/dir"), IsADirectory),
        (lambda s: s.delete("/missing"), PathNotFound),
        (lambda s: s.mkdir("/dir"), AlreadyExists),
        (lambda s: s.mkdir("/a.txt"), AlreadyExists),
        (lambda s: s.rmdir("/dir"), DirectoryNotEmpty),
        (lambda s: s.rmdir("/a.txt"), NotADirectory),
        (lambda s: s.rename("/missing", "/b"), PathNotFound),
        (lambda s: s.rename("/a.txt", "/dir"), IsADirectory),
        (lambda s: s.rename("/dir", "/dir/inner"), FileUnavailable),
        (lambda s: s.digest("/dir", "MD5"), IsADirectory),
        (lambda s: s.digest("/a.txt", "WHIRLPOOL"), ParameterNotImplemented),
        (lambda s: s.digest("/a.txt", "MD5", 5, 2), ArgumentError),
        (lambda s: s.open_read("/a.txt", -1), ArgumentError),
        (lambda s: s.set_mtime("/a.txt", 1e300), ArgumentError),
        (lambda s: s.open_write("/" + "n" * 300), NameNotAllowed),
    ],
)
async def test_os_errors_become_typed_refusals(storage: LocalStorage, call, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        await call(storage)


@pytest.mark.parametrize(
    ("number", "error", "code"),
    [
        (errno.ENOENT, PathNotFound, 550),
        (errno.EACCES, PermissionDenied, 550),
        (errno.EPERM, PermissionDenied, 550),
        (errno.ENOTDIR, NotADirectory, 550),
        (errno.EISDIR, IsADirectory, 550),
        (errno.EEXIST, AlreadyExists, 550),
        (errno.ENOTEMPTY, DirectoryNotEmpty, 550),
        (errno.ENOSPC, InsufficientStorage, 452),
        (errno.EDQUOT, ExceededStorage, 552),
        (errno.ENAMETOOLONG, NameNotAllowed, 553),
        (errno.EROFS, PermissionDenied, 550),
        (errno.EBUSY, FileBusy, 450),
        (errno.EIO, LocalError, 451),
    ],
)
def test_translate_os_error(number: int, error: type[FtpError], code: int) -> None:
    exc = OSError(number, os.strerror(number), "/srv/very/secret/host/path")
    refusal = translate_os_error(exc)
    assert type(refusal) is error
    assert refusal.code == ReplyCode(code)
    assert "/srv" not in refusal.text
    if number == errno.EROFS:
        assert refusal.text == "Read-only file system."
    if number == errno.EIO:
        assert refusal.text == "Input/output error."


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
async def test_permission_denied_on_unreadable_file(storage: LocalStorage, root: Path) -> None:
    (root / "a.txt").chmod(0)
    with pytest.raises(PermissionDenied):
        await storage.open_read("/a.txt")


async def test_read_from_offset(storage: LocalStorage) -> None:
    handle: ReadHandle = await storage.open_read("/a.txt", offset=6)
    try:
        assert handle.size == 11
        assert handle.file is not None
        assert handle.file.tell() == 6
        assert await handle.read(3) == b"wor"
        assert await handle.read(100) == b"ld"
        assert await handle.read(100) == b""
    finally:
        await handle.close()
    await handle.close()  # closing twice is harmless


async def test_read_handle_opens_no_file_object_for_sendfile(storage: LocalStorage) -> None:
    """A download by sendfile uses the descriptor alone; the file object (one fstat more) is
    made only when something reads through it, at the handle's offset."""
    handle = await storage.open_read("/a.txt", offset=6)
    fd = handle.descriptor
    assert fd is not None
    assert os.pread(fd, 5, 6) == b"world"
    assert handle._file is None  # nothing asked for the file object yet
    assert handle.file.tell() == 6
    await handle.close()
    assert handle.descriptor is None
    with pytest.raises(OSError) as raised:
        os.fstat(fd)
    assert raised.value.errno == errno.EBADF
    await handle.close()  # closing twice is harmless


async def test_read_handle_closes_its_descriptor_when_never_read(storage: LocalStorage) -> None:
    handle = await storage.open_read("/a.txt")
    fd = handle.descriptor
    assert fd is not None
    await handle.close()
    with pytest.raises(OSError) as raised:
        os.fstat(fd)
    assert raised.value.errno == errno.EBADF
    with pytest.raises(ValueError, match="closed file"):
        _ = handle.file


async def test_read_handle_file_works_with_loop_sendfile(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(300_000))
    storage = LocalStorage(tmp_path)
    received = bytearray()
    done = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read())
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        async with await storage.open_read("/big.bin", offset=1000) as handle:
            assert handle.file is not None
            loop = asyncio.get_running_loop()
            sent = await loop.sendfile(writer.transport, handle.file, 1000, handle.size - 1000)
        writer.close()
        await writer.wait_closed()
        await done.wait()
    assert sent == 299_000
    assert bytes(received) == (tmp_path / "big.bin").read_bytes()[1000:]


async def test_write_truncates_by_default(storage: LocalStorage, root: Path) -> None:
    handle: WriteHandle = await storage.open_write("/a.txt")
    await handle.write(b"new")
    await handle.close()
    assert handle.written == 3
    assert (root / "a.txt").read_bytes() == b"new"


async def test_write_resumes_at_offset_without_truncating(
    storage: LocalStorage, root: Path
) -> None:
    async with await storage.open_write("/a.txt", offset=6) as handle:
        await handle.write(memoryview(b"WORLD"))
    assert handle.written == 5
    assert (root / "a.txt").read_bytes() == b"hello WORLD"
    async with await storage.open_write("/a.txt", offset=11) as handle:
        await handle.write(b"!!")
    assert (root / "a.txt").read_bytes() == b"hello WORLD!!"


async def test_append(storage: LocalStorage, root: Path) -> None:
    async with await storage.open_write("/a.txt", append=True) as handle:
        await handle.write(b", again")
        await handle.write(b"")
    assert (root / "a.txt").read_bytes() == b"hello world, again"
    async with await storage.open_write("/new.txt", append=True) as handle:
        await handle.write(b"created")
    assert (root / "new.txt").read_bytes() == b"created"


async def test_exclusive_creates_only_new_files(storage: LocalStorage, root: Path) -> None:
    async with await storage.open_write("/unique.txt", exclusive=True) as handle:
        await handle.write(b"1")
    assert (root / "unique.txt").read_bytes() == b"1"
    with pytest.raises(AlreadyExists):
        await storage.open_write("/unique.txt", exclusive=True)


async def test_large_write_is_complete(storage: LocalStorage, root: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 7)
    async with await storage.open_write("/large.bin") as handle:
        await handle.write(data)
    assert handle.written == len(data)
    assert (root / "large.bin").read_bytes() == data


async def test_write_after_close_is_refused(storage: LocalStorage) -> None:
    handle = await storage.open_write("/x.txt")
    await handle.close()
    await handle.close()
    with pytest.raises(LocalError):
        await handle.write(b"late")


async def test_fifo_is_refused_without_blocking(storage: LocalStorage, root: Path) -> None:
    os.mkfifo(root / "pipe")
    with pytest.raises(FileUnavailable, match="regular"):
        await asyncio.wait_for(storage.open_read("/pipe"), 5)
    facts = {f.name: f.kind for f in await storage.listdir("/")}
    assert facts["pipe"] == "other"


async def test_mkdir_rmdir_delete_rename(storage: LocalStorage, root: Path) -> None:
    await storage.mkdir("/made")
    assert (root / "made").is_dir()
    await storage.rename("/a.txt", "/made/b.txt")
    assert (root / "made" / "b.txt").read_bytes() == b"hello world"
    await storage.rename("/made", "/moved")
    assert (root / "moved" / "b.txt").exists()
    await storage.delete("/moved/b.txt")
    await storage.rmdir("/moved")
    assert not (root / "moved").exists()


async def test_set_mtime(storage: LocalStorage) -> None:
    await storage.set_mtime("/a.txt", 1_000_000_000.5)
    assert (await storage.stat("/a.txt")).mtime == pytest.approx(1_000_000_000.5)


@pytest.mark.parametrize(
    ("algorithm", "reference"),
    [
        ("SHA-256", lambda b: hashlib.sha256(b).hexdigest()),
        ("sha-1", lambda b: hashlib.sha1(b).hexdigest()),
        ("SHA-512", lambda b: hashlib.sha512(b).hexdigest()),
        ("MD5", lambda b: hashlib.md5(b).hexdigest()),
        ("CRC32", lambda b: f"{zlib.crc32(b):08x}"),
    ],
)
async def test_digest_matches_hashlib(
    storage: LocalStorage, root: Path, algorithm: str, reference: Callable[[bytes], str]
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 12345)
    (root / "data.bin").write_bytes(data)
    assert await storage.digest("/data.bin", algorithm) == reference(data)
    assert await storage.digest("/data.bin", algorithm, 1000) == reference(data[1000:])
    assert await storage.digest("/data.bin", algorithm, 10, 1_500_000) == reference(
        data[10:1_500_000]
    )
    assert await storage.digest("/data.bin", algorithm, 5, 5) == reference(b"")
    assert await storage.digest("/data.bin", algorithm, 0, 10**9) == reference(data)


async def test_crc32_is_eight_hex_digits(storage: LocalStorage, root: Path) -> None:
    (root / "empty").write_bytes(b"")
    assert await storage.digest("/empty", "CRC32") == "00000000"


async def test_listdir_of_1000_files_is_sorted_and_fast(storage: LocalStorage, root: Path) -> None:
    big = root / "big"
    big.mkdir()
    names = [f"file-{i:04d}.txt" for i in range(1000)]
    for name in reversed(names):
        (big / name).write_bytes(b"x")
    started = time.perf_counter()
    facts = await storage.listdir("/big")
    elapsed = time.perf_counter() - started
    assert [f.name for f in facts] == names
    assert all(f.kind == "file" and f.size == 1 for f in facts)
    assert elapsed < 1.0


async def test_listdir_reports_kinds(storage: LocalStorage) -> None:
    facts = await storage.listdir("/")
    assert [(f.name, f.kind) for f in facts] == [("a.txt", "file"), ("dir", "dir")]
