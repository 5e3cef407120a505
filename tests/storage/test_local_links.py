"""What the local store tells a link guard: the virtual path named and the one a symbolic link
leads to (a virtual folder's name included), and nothing at all for a path without links."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pasv.policy.models import Perm
from pasv.protocol.errors import PermissionDenied
from pasv.storage.links import LINKS, LinkedFacts
from pasv.storage.local import LocalStorage
from pasv.storage.mounts import MountedStorage


class Recorder:
    """A guard that notes each question and refuses paths below /secret."""

    def __init__(self) -> None:
        self.asked: list[tuple[Perm, str, str, bool]] = []

    def __call__(self, perm: Perm, path: str, real: str, *, new: bool = False) -> None:
        self.asked.append((perm, path, real, new))
        if "/secret" in real:
            raise PermissionDenied("no")

    def rename(
        self, source: str, real_source: str, target: str, real_target: str, *, directory: bool
    ) -> None:
        self.asked.append((Perm.RENAME, source, real_source, directory))


def _tree(root: Path) -> None:
    (root / "secret").mkdir(parents=True)
    (root / "secret" / "s.txt").write_bytes(b"s")
    (root / "open" / "deep").mkdir(parents=True)
    (root / "open" / "deep" / "o.txt").write_bytes(b"o")
    os.symlink("secret", root / "ln")
    os.symlink("open", root / "ok")


def _guarded(work: object) -> Recorder:
    recorder = Recorder()

    async def run() -> None:
        LINKS.set(recorder)
        await work  # type: ignore[misc]

    asyncio.run(run())
    return recorder


def test_a_mounted_folder_reports_paths_with_its_name(tmp_path: Path) -> None:
    _tree(tmp_path / "folder")
    (tmp_path / "home").mkdir()
    tree = MountedStorage(
        LocalStorage(tmp_path / "home"),
        {"shared": LocalStorage(tmp_path / "folder", mounted_at="/shared")},
    )

    async def work() -> None:
        assert (await tree.stat("/shared/ok/deep/o.txt")).size == 1
        with pytest.raises(PermissionDenied):
            await tree.open_read("/shared/ln/s.txt")
        with pytest.raises(PermissionDenied):
            await tree.mkdir("/shared/ln/new")
        entries = await tree.listdir("/shared")
        assert {e.name: e.target for e in entries if isinstance(e, LinkedFacts)} == {
            "ln": "/shared/secret",
            "ok": "/shared/open",
        }

    asked = _guarded(work()).asked
    assert asked == [
        (Perm.LIST, "/shared/ok/deep/o.txt", "/shared/open/deep/o.txt", False),
        (Perm.RETR, "/shared/ln/s.txt", "/shared/secret/s.txt", False),
        (Perm.MKD, "/shared/ln/new", "/shared/secret/new", True),
    ]
    assert not (tmp_path / "folder" / "secret" / "new").exists()


def test_a_path_without_links_asks_nothing_and_walks_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    store = LocalStorage(tmp_path)
    calls: list[str] = []
    real_lstat = os.lstat

    def counting(path: str, *args: object, **kwargs: object) -> os.stat_result:
        calls.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)  # type: ignore[arg-type]

    async def work() -> None:
        monkeypatch.setattr(os, "lstat", counting)
        handle = await store.open_read("/open/deep/o.txt")
        await handle.close()

    asked = _guarded(work()).asked
    assert asked == []
    # one lstat per directory on the way, none for the file (opened with O_NOFOLLOW)
    assert calls == [str(tmp_path / "open"), str(tmp_path / "open" / "deep")]
