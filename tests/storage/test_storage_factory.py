"""The [storage] settings: validated at start, and turned into each user's storage."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from pasv.config import ConfigError, load_settings
from pasv.server.storages import storage_factory, storage_spec
from pasv.storage.local import LocalStorage
from pasv.storage.mounts import MountedStorage
from pasv.storage.s3 import S3Storage
from pasv.storage.s3write import copy_ranges

S3 = {"endpoint": "http://127.0.0.1:1", "bucket": "files", "prefix": "homes"}


def _settings(tmp_path: Path, storage: dict[str, object]) -> object:
    return load_settings(
        None, {"server": {"data_dir": str(tmp_path)}, "storage": storage}, environ={}
    )


@pytest.mark.parametrize(
    ("storage", "problem"),
    [
        ({"backend": "s3"}, "storage.s3.bucket is not set"),
        ({"backend": "s3", "s3": {**S3, "access_key": "k"}}, "both access_key and secret_key"),
        ({"backend": "s3", "s3": {**S3, "part_size_mib": 4}}, "part_size_mib"),
        ({"backend": "ftp"}, "storage.backend"),
        (
            {"folders": [{"path": "/a/b", "backend": "local", "location": "/srv"}]},
            "one name below /",
        ),
        (
            {"folders": [{"path": "/x", "backend": "s3", "location": "p"}]},
            "storage.s3.bucket is not set",
        ),
    ],
)
def test_bad_storage_settings_name_the_key(
    tmp_path: Path, storage: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        _settings(tmp_path, storage)


def test_the_secret_key_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {"storage": {"backend": "s3", "s3": {**S3, "access_key": "AK", "secret_key": "hush-1"}}},
        environ={},
    )
    assert "hush-1" not in repr(settings)
    spec = storage_spec(settings)
    assert spec.s3 is not None and spec.s3.secret_key == "hush-1"
    assert "hush-1" not in repr(spec)


async def test_homes_are_prefixes_and_folders_mount_beside_them(tmp_path: Path) -> None:
    settings = load_settings(
        None,
        {
            "server": {"data_dir": str(tmp_path)},
            "storage": {
                "backend": "s3",
                "s3": S3,
                "folders": [
                    {"path": "/disk", "backend": "local", "location": str(tmp_path / "{user}")},
                    {"path": "/only-bob", "backend": "s3", "location": "x", "users": ["bob"]},
                ],
            },
        },
        environ={},
    )
    factory = storage_factory(settings)
    try:
        assert factory.s3_home_key(settings.files_root / "alice") == "homes/alice"
        assert factory.s3_home_key(settings.files_root) == "homes"
        assert factory.s3_home_key(Path("/srv/ftp/carol")) == "homes/srv/ftp/carol"
        assert factory.s3_home_key(Path("/x"), anonymous=True) == "homes/anonymous"
        alice = await factory.for_user("alice", settings.files_root / "alice")
        assert isinstance(alice, MountedStorage)
        assert [f.name for f in await alice.listdir("/disk")] == []  # made, and local
        assert (tmp_path / "alice").is_dir()
        assert alice.identity("/disk/f").startswith(str(tmp_path / "alice"))
        assert alice.identity("/f") == "s3://http://127.0.0.1:1/files/homes/alice/f"
        assert alice.capabilities.chmod is False  # the S3 home cannot
        with pytest.raises(Exception, match="user name"):
            await factory.for_user("../x", settings.files_root)
    finally:
        await factory.aclose()


async def test_local_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(None, {"server": {"data_dir": str(tmp_path)}}, environ={})
    factory = storage_factory(settings)
    home = await factory.for_user("alice", settings.files_root / "alice")
    assert isinstance(home, LocalStorage) and not isinstance(home, S3Storage)
    assert (settings.files_root / "alice").is_dir()
    await factory.aclose()


def test_copy_ranges_respect_s3_part_limits() -> None:
    gib = 1024**3
    assert copy_ranges(10) == [(0, 9)]
    ranges = copy_ranges(5 * gib + 1)  # two equal parts, not 5 GiB and 1 byte
    assert len(ranges) == 2 and ranges[0][0] == 0 and ranges[-1][1] == 5 * gib
    assert all(last - first + 1 <= 5 * gib for first, last in ranges)
    assert all(last - first + 1 >= 5 * 1024**2 for first, last in ranges)
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(ranges))
