"""Virtual folders: what the tree can do is asked per path; the storage owning the path answers
(a local home can set permission bits beside a folder that keeps none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pasv.protocol import errors as err
from pasv.protocol.texts import Said
from pasv.storage.base import Capabilities, Storage
from pasv.storage.local import LocalStorage
from pasv.storage.memory import MemoryStorage
from pasv.storage.mounts import MountedStorage


class _Timeless(MemoryStorage):  # a real in-memory tree that, like S3, keeps no times either
    capabilities = Capabilities(sendfile=False, chmod=False, set_mtime=False)


@pytest.fixture
def tree(tmp_path: Path) -> MountedStorage:
    (tmp_path / "local.txt").write_bytes(b"on disk")
    return MountedStorage(LocalStorage(tmp_path), {"mem": MemoryStorage(), "cold": _Timeless()})


def test_each_path_is_answered_by_the_storage_that_owns_it(tree: MountedStorage) -> None:
    assert isinstance(tree, Storage)
    for home in ("/", "/local.txt", "/memory", "/a/mem/b"):  # not below a folder: the home
        assert tree.capabilities_at(home) == Capabilities(), home
    for path in ("/mem", "/mem/", "/mem/x/y.txt"):
        assert tree.capabilities_at(path) == MemoryStorage.capabilities, path
    assert tree.capabilities_at("/cold/f") == _Timeless.capabilities
    # the whole tree: only what every storage can do
    assert tree.capabilities == Capabilities(sendfile=False, chmod=False, set_mtime=False)


def test_a_storage_of_one_kind_answers_its_capabilities_everywhere(tmp_path: Path) -> None:
    local, memory = LocalStorage(tmp_path), MemoryStorage()
    for path in ("/", "/a", "/a/b/c"):
        assert local.capabilities_at(path) == local.capabilities
        assert memory.capabilities_at(path) == memory.capabilities


async def test_what_the_path_answers_is_what_the_storage_does(
    tree: MountedStorage, tmp_path: Path
) -> None:
    assert tree.capabilities_at("/local.txt").chmod
    await tree.chmod("/local.txt", 0o600)
    assert (tmp_path / "local.txt").stat().st_mode & 0o777 == 0o600
    assert not tree.capabilities_at("/mem/f").chmod
    writer = await tree.open_write("/mem/f")
    await writer.write(b"x")
    await writer.commit()
    await writer.close()
    with pytest.raises(err.PermissionDenied):
        await tree.chmod("/mem/f", 0o600)


async def test_a_folder_itself_is_refused_with_a_sayable_reason(tree: MountedStorage) -> None:
    with pytest.raises(err.PermissionDenied) as caught:
        await tree.rmdir("/mem")
    text = caught.value.text
    assert text == "/mem is a virtual folder; it cannot be changed."
    assert isinstance(text, Said) and text.key == "storage.virtual_folder"
    assert text.values == {"folder": "mem"}
