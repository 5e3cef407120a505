"""LocalStorage jail: symlinks, NUL bytes and '..' cannot reach outside the root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pasv.policy.models import Perm
from pasv.protocol.errors import (
    AlreadyExists,
    FileUnavailable,
    OutsideJail,
    PermissionDenied,
)
from pasv.storage.links import LINKS
from pasv.storage.local import LocalStorage


class Trusting:
    """A guard that allows every link inside the root (a caller that vouches for them all)."""

    def __call__(self, perm: Perm, path: str, real: str, *, new: bool = False) -> None:
        return None

    def rename(
        self, source: str, real_source: str, target: str, real_target: str, *, directory: bool
    ) -> None:
        return None


@contextmanager
def trusting() -> Iterator[None]:
    """Links inside the root followed: without a guard they are refused (test_links_unguarded)."""
    token = LINKS.set(Trusting())
    try:
        yield
    finally:
        LINKS.reset(token)


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def _realpath(path: Path) -> str:
    return os.path.realpath(path)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.txt").write_bytes(b"top secret")
    return out


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_bytes(b"hello")
    (root / "sub").mkdir()
    (root / "etc").symlink_to("/etc")
    (root / "outdir").symlink_to(outside)
    (root / "secret").symlink_to(outside / "secret.txt")
    (root / "dangling").symlink_to(outside / "created-by-attacker.txt")
    (root / "relative").symlink_to("../outside/secret.txt")
    (root / "good").symlink_to("inside.txt")
    (root / "gooddir").symlink_to("sub")
    return root


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


async def test_symlink_to_etc_is_refused_everywhere(storage: LocalStorage) -> None:
    with pytest.raises(OutsideJail):
        await storage.stat("/etc")
    with pytest.raises(OutsideJail):
        await storage.listdir("/etc")
    with pytest.raises(OutsideJail):
        await storage.stat("/etc/passwd")
    with pytest.raises(OutsideJail):
        await storage.open_read("/etc/passwd")
    with pytest.raises(OutsideJail):
        await storage.open_write("/etc/pasv-test-should-not-exist")
    with pytest.raises(OutsideJail):
        await storage.digest("/etc/passwd", "SHA-256")
    assert not _exists("/etc/pasv-test-should-not-exist")


@pytest.mark.parametrize("name", ["/secret", "/relative"])
async def test_file_symlink_escape(storage: LocalStorage, outside: Path, name: str) -> None:
    with pytest.raises(OutsideJail):
        await storage.stat(name)
    with pytest.raises(OutsideJail):
        await storage.open_read(name)
    with pytest.raises(OutsideJail):
        await storage.open_write(name)
    with pytest.raises(OutsideJail):
        await storage.open_write(name, append=True)
    with pytest.raises(OutsideJail):
        await storage.set_mtime(name, 0.0)
    with pytest.raises(OutsideJail):
        await storage.digest(name, "MD5")
    assert (outside / "secret.txt").read_bytes() == b"top secret"


async def test_directory_symlink_escape(storage: LocalStorage, outside: Path) -> None:
    with pytest.raises(OutsideJail):
        await storage.listdir("/outdir")
    with pytest.raises(OutsideJail):
        await storage.open_read("/outdir/secret.txt")
    with pytest.raises(OutsideJail):
        await storage.mkdir("/outdir/newdir")
    with pytest.raises(OutsideJail):
        await storage.delete("/outdir/secret.txt")
    with pytest.raises(OutsideJail):
        await storage.rmdir("/outdir/anything")
    assert not (outside / "newdir").exists()
    assert (outside / "secret.txt").exists()


async def test_dangling_symlink_cannot_create_outside(storage: LocalStorage, outside: Path) -> None:
    with pytest.raises(OutsideJail):
        await storage.open_write("/dangling")
    with pytest.raises(OutsideJail):
        await storage.open_write("/dangling", exclusive=True)
    assert not (outside / "created-by-attacker.txt").exists()


async def test_rename_cannot_leave_or_enter_from_outside(storage: LocalStorage, root: Path) -> None:
    with pytest.raises(OutsideJail):
        await storage.rename("/inside.txt", "/outdir/stolen.txt")
    with pytest.raises(OutsideJail):
        await storage.rename("/outdir/secret.txt", "/stolen.txt")
    with pytest.raises(OutsideJail):
        await storage.rename("/inside.txt", "/etc/stolen.txt")
    assert (root / "inside.txt").read_bytes() == b"hello"
    assert not (root / "stolen.txt").exists()


async def test_escaping_links_are_listed_as_links(storage: LocalStorage) -> None:
    with trusting():
        facts = {f.name: f for f in await storage.listdir("/")}
    for name in ("etc", "outdir", "secret", "dangling", "relative"):
        assert facts[name].kind == "link", name
    assert facts["good"].kind == "file"
    assert facts["good"].size == 5
    assert facts["gooddir"].kind == "dir"


async def test_symlinks_inside_the_root_work(storage: LocalStorage) -> None:
    with trusting():
        await _use_links_inside(storage)


async def _use_links_inside(storage: LocalStorage) -> None:
    assert (await storage.stat("/good")).kind == "file"
    async with await storage.open_read("/good") as handle:
        assert await handle.read(100) == b"hello"
    assert (await storage.stat("/gooddir")).kind == "dir"
    async with await storage.open_write("/gooddir/new.txt") as w:
        await w.write(b"x")
    assert [f.name for f in await storage.listdir("/sub")] == ["new.txt"]
    async with await storage.open_read("/gooddir/new.txt") as handle:
        assert await handle.read(100) == b"x"


async def test_a_chain_of_links_inside_the_root_is_read(storage: LocalStorage, root: Path) -> None:
    (root / "chain").symlink_to("good")
    with trusting():
        async with await storage.open_read("/chain", 1) as handle:
            assert await handle.read(100) == b"ello"
    (root / "outchain").symlink_to("secret")
    with pytest.raises(OutsideJail):
        await storage.open_read("/outchain")


async def test_escaping_link_itself_can_be_removed(storage: LocalStorage, outside: Path) -> None:
    await storage.delete("/secret")
    assert (outside / "secret.txt").read_bytes() == b"top secret"
    names = [f.name for f in await storage.listdir("/")]
    assert "secret" not in names


@pytest.mark.parametrize("path", ["/a\0b", "/sub/\0", "\0"])
async def test_nul_bytes_are_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(FileUnavailable):
        await storage.stat(path)
    with pytest.raises(FileUnavailable):
        await storage.open_write(path)
    with pytest.raises(FileUnavailable):
        await storage.mkdir(path)


@pytest.mark.parametrize("path", ["/..", "/../outside/secret.txt", "/sub/../../x", "/sub/.."])
async def test_dotdot_components_are_refused(storage: LocalStorage, path: str) -> None:
    with pytest.raises(OutsideJail):
        await storage.stat(path)
    with pytest.raises(OutsideJail):
        await storage.listdir(path)
    with pytest.raises(OutsideJail):
        await storage.open_read(path)
    with pytest.raises(OutsideJail):
        await storage.open_write(path)
    with pytest.raises(OutsideJail):
        await storage.mkdir(path)
    with pytest.raises(OutsideJail):
        await storage.delete(path)
    with pytest.raises(OutsideJail):
        await storage.rename("/inside.txt", path)


async def test_root_itself_cannot_be_removed_or_renamed(storage: LocalStorage) -> None:
    with pytest.raises(PermissionDenied):
        await storage.rmdir("/")
    with pytest.raises(PermissionDenied):
        await storage.delete("/")
    with pytest.raises(PermissionDenied):
        await storage.rename("/", "/x")
    with pytest.raises(AlreadyExists):
        await storage.mkdir("/")


async def test_root_given_through_a_symlink(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    storage = LocalStorage(alias)
    assert storage.real_root == Path(_realpath(root))
    assert (await storage.stat("/inside.txt")).size == 5
    with pytest.raises(OutsideJail):
        await storage.stat("/secret")


async def test_error_texts_do_not_reveal_the_host_path(storage: LocalStorage, root: Path) -> None:
    calls = (
        lambda: storage.stat("/missing"),
        lambda: storage.open_read("/sub"),
        lambda: storage.stat("/secret"),
    )
    for call in calls:
        with pytest.raises(FileUnavailable) as info:
            await call()
        assert str(root) not in info.value.text
        assert str(root) not in str(info.value)
