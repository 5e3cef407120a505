"""What an upload costs the local disk in system calls, counted by strace on a child process:
an existing file's path is walked once (the open goes by the walk that named it for the
files-in-use lock, carried to it in the upload's target, and checks it opened the file that
walk saw), the opened file is ``fstat``-ed once (its regular-file check), a new name is opened
once (made at once, as the walk saw none there), and the handle knows without asking that it
may splice into the file; and a path through a link is still put to the link guard however the
lock named it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.storage.test_local_links import Recorder, _tree

from pasv.protocol.errors import PermissionDenied
from pasv.storage.links import LINKS
from pasv.storage.local import LocalStorage

# In the child: one upload as the STOR handler makes it (its target, the lock's name, then the
# open given that target),
# between two marker stats of names that do not exist, so strace's count is of that alone.
_CHILD = """
import asyncio, os, sys
from pasv.storage.base import WriteMode
from pasv.storage.local import LocalStorage

root, path, atomic = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
mode = WriteMode(atomic=atomic)

async def upload(store: LocalStorage, name: str) -> None:
    target = store.upload_target(name)
    handle = await store.open_write(name, mode=mode, target=target)
    handle.splicer()  # as the server asks, whether it can splice into the file
    await handle.begin()
    await handle.write(b"x" * 4096)
    await handle.commit()
    await handle.close()

async def main() -> None:
    store = LocalStorage(root)
    await upload(store, path + ".warm")  # imports, the thread pool: before the markers
    for marker, step in (("/pasv-h9-begin", upload(store, path)), ("/pasv-h9-end", None)):
        try:
            os.stat(marker)
        except FileNotFoundError:
            pass
        if step is not None:
            await step

asyncio.run(main())
"""
_STATS = ("stat(", "lstat(", "fstat(", "newfstatat(", "fstatat64(", "statx(")


def _calls(root: Path, path: str, *, atomic: bool) -> list[str]:
    """The stat-family calls and opens of one upload."""
    log = root.parent / "strace.log"
    traced = "trace=%stat,%lstat,%fstat,statx,open,openat,fcntl"
    argv = ["strace", "-f", "-qq", "-o", str(log), "-e", traced]
    argv += [sys.executable, "-c", _CHILD, str(root), path, "1" if atomic else "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0 and "ptrace" in done.stderr:
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    begin = next(i for i, line in enumerate(lines) if "/pasv-h9-begin" in line)
    end = next(i for i, line in enumerate(lines) if "/pasv-h9-end" in line)
    calls = [line.split(None, 1)[1] for line in lines[begin + 1 : end]]
    return [call for call in calls if "resumed>" not in call]


needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="no strace")


@needs_strace
@pytest.mark.parametrize("existing", [True, False], ids=["overwrite", "new"])
@pytest.mark.parametrize("path", ["/f.bin", "/a/b/f.bin"], ids=["in-root", "two-down"])
def test_an_upload_in_place_walks_once_and_fstats_once(
    tmp_path: Path, path: str, existing: bool
) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    if existing:
        (root / path.lstrip("/")).write_bytes(b"old")
    calls = _calls(root, path, atomic=False)
    opens = [c for c in calls if c.startswith(("open(", "openat("))]
    assert not [c for c in calls if "F_GETFL" in c], calls  # the handle knows its flags
    calls = [c for c in calls if c.startswith(_STATS)]
    assert len(opens) == 1, opens  # a new name: made at once, not first opened and missed
    components = path.count("/")
    walked = [c for c in calls if f"{root}/" in c and "AT_SYMLINK_NOFOLLOW" in c]
    fstats = [c for c in calls if "AT_EMPTY_PATH" in c or c.startswith("fstat(")]
    # one lstat per component; a new name twice (the walk that names it for the lock cannot
    # tell the open that the directory it saw is still the one the file is made in)
    assert len(walked) == components * (1 if existing else 2), calls
    assert len(fstats) == 1, calls  # the open's regular-file check, not a FileIO's too
    assert len(calls) == len(walked) + 1, calls
    assert (root / path.lstrip("/")).read_bytes() == b"x" * 4096


@needs_strace
def test_an_atomic_upload_never_fstats_its_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f.bin").write_bytes(b"old")
    calls = [c for c in _calls(root, "/a/f.bin", atomic=True) if c.startswith(_STATS)]
    assert not [c for c in calls if "AT_EMPTY_PATH" in c or c.startswith("fstat(")], calls
    assert (root / "a" / "f.bin").read_bytes() == b"x" * 4096


def test_a_link_on_the_path_goes_to_the_guard_after_the_lock_named_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    store = LocalStorage(tmp_path)
    recorder = Recorder()

    async def run() -> None:
        LINKS.set(recorder)
        target = store.upload_target("/ln/s.txt")  # the lock's name for it: through the link
        with pytest.raises(PermissionDenied):
            await store.open_write("/ln/s.txt", target=target)
        other = store.upload_target("/open/deep/o.txt")  # another path walked: not this upload's
        async with await store.open_write("/ok/deep/o.txt", target=other) as handle:
            await handle.begin()
            await handle.write(b"new")
            await handle.commit()

    asyncio.run(run())
    assert [(perm.name, path, real) for perm, path, real, _ in recorder.asked] == [
        ("STOR", "/ln/s.txt", "/secret/s.txt"),
        ("STOR", "/ok/deep/o.txt", "/open/deep/o.txt"),
    ]
    assert (tmp_path / "secret" / "s.txt").read_bytes() == b"s"
    assert os.path.realpath(tmp_path / "ok") == str(tmp_path / "open")
    assert (tmp_path / "open" / "deep" / "o.txt").read_bytes() == b"new"


def test_a_link_put_on_the_path_after_the_lock_named_it_goes_to_the_guard(
    tmp_path: Path,
) -> None:
    _tree(tmp_path)  # ln -> secret, which the guard refuses
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "s.txt").write_bytes(b"mine")
    store = LocalStorage(tmp_path)
    recorder = Recorder()

    async def run() -> None:
        LINKS.set(recorder)
        target = store.upload_target("/d/s.txt")  # no link on the way: the open may go by it
        os.rename(tmp_path / "d", tmp_path / "e")  # meanwhile the directory is moved away
        os.rename(tmp_path / "ln", tmp_path / "d")  # and the link put in its place
        with pytest.raises(PermissionDenied):
            await store.open_write("/d/s.txt", target=target)

    asyncio.run(run())
    assert [(perm.name, path, real) for perm, path, real, _ in recorder.asked] == [
        ("STOR", "/d/s.txt", "/secret/s.txt")
    ]
    assert (tmp_path / "secret" / "s.txt").read_bytes() == b"s"
    assert (tmp_path / "e" / "s.txt").read_bytes() == b"mine"
