"""An atomic upload that cannot be put under its name leaves no hidden file, and its close does
not try (and fail) again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pasv.protocol.errors import FtpError
from pasv.storage.base import WriteMode
from pasv.storage.local import LocalStorage


@pytest.mark.parametrize("keep_partial", [False, True], ids=["atomic", "atomic-resume"])
@pytest.mark.parametrize("unnamed", [True, False], ids=["o_tmpfile", "hidden-name"])
async def test_a_failed_commit_removes_the_upload(
    tmp_path: Path, keep_partial: bool, unnamed: bool
) -> None:
    store = LocalStorage(tmp_path, unnamed_uploads=unnamed)
    mode = WriteMode(atomic=True, keep_partial=keep_partial)
    handle = await store.open_write("/x", mode=mode)
    await handle.write(b"data")
    (tmp_path / "x").mkdir()
    with pytest.raises(FtpError):
        await handle.commit()
    await handle.close()  # nothing raised: the failure was already answered
    assert sorted(os.listdir(tmp_path)) == ["x"]
    assert (tmp_path / "x").is_dir()
