"""Homes on S3 (a real SeaweedFS): transfers, REST and APPE done in the store, listings,
directories as prefixes with markers, renames, and what S3 refuses, driven by ftplib and curl."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import PASSWORD, USER, LiveServer, start_server
from tests.support.seaweed import Weed, unique_prefix

MIB = 1024 * 1024


@pytest.fixture
def s3live(tmp_path: Path, weed: Weed) -> Iterator[tuple[LiveServer, str]]:
    prefix = unique_prefix()
    server = start_server(tmp_path / "data", storage=weed.storage_settings(prefix, rename_limit=3))
    yield server, prefix
    server.stop()


def _put(ftp: ftplib.FTP, name: str, data: bytes, rest: int | None = None) -> str:
    return ftp.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=256 * 1024, rest=rest)


def _get(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write, rest=rest)
    return out.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_upload_and_download_through_s3_are_whole(
    s3live: tuple[LiveServer, str], weed: Weed
) -> None:
    live, prefix = s3live
    data = os.urandom(20 * MIB + 12345)  # three parts of 8 MiB: a multipart upload
    ftp = live.login()
    assert _put(ftp, "big.bin", data).startswith("226")
    assert weed.keys(prefix) == {f"{prefix}/big.bin": len(data)}
    assert weed.open_uploads(prefix) == []
    assert ftp.size("big.bin") == len(data)
    assert _sha(_get(ftp, "big.bin")) == _sha(data)
    assert not (live.files / "big.bin").exists()  # nothing on the local disk
    small = b"hello over S3\n"
    assert _put(ftp, "small.txt", small).startswith("226")  # below one part: one PUT
    assert _get(ftp, "small.txt") == small
    assert ftp.sendcmd("HASH small.txt").split()[3] == _sha(small)


def test_curl_uploads_and_downloads_through_s3(
    s3live: tuple[LiveServer, str], tmp_path: Path
) -> None:
    live, _ = s3live
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(6 * MIB + 7))
    url = f"ftp://{USER}:{PASSWORD}@127.0.0.1:{live.port}/"
    up = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-T", str(source), url + "c.bin"],
        capture_output=True,
        text=True,
    )
    assert up.returncode == 0, up.stderr
    back = tmp_path / "back.bin"
    down = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-o", str(back), url + "c.bin"],
        capture_output=True,
        text=True,
    )
    assert down.returncode == 0, down.stderr
    assert _sha(back.read_bytes()) == _sha(source.read_bytes())


@pytest.mark.parametrize("head", [6 * MIB + 3, 1000], ids=["part-copy", "read-back"])
def test_rest_stor_resumes_in_the_store(
    s3live: tuple[LiveServer, str], weed: Weed, head: int
) -> None:
    """A kept head of 5 MiB or more is copied by UploadPartCopy; a smaller one is read back
    into the first part (S3 parts but the last are at least 5 MiB)."""
    live, prefix = s3live
    data = os.urandom(head + 3 * MIB + 11)
    ftp = live.login()
    assert _put(ftp, "r.bin", data[:head]).startswith("226")
    assert _put(ftp, "r.bin", data[head:], rest=head).startswith("226")
    assert weed.keys(prefix) == {f"{prefix}/r.bin": len(data)}
    assert _sha(_get(ftp, "r.bin")) == _sha(data)
    # a ranged GET for REST + RETR
    assert _get(ftp, "r.bin", rest=head - 10) == data[head - 10 :]
    with pytest.raises(ftplib.error_perm, match="501"):
        _put(ftp, "r.bin", b"x", rest=len(data) + 1)  # beyond the end: refused, not padded
    assert weed.keys(prefix) == {f"{prefix}/r.bin": len(data)}


@pytest.mark.parametrize("first", [5 * MIB, 10], ids=["part-copy", "read-back"])
def test_appe_appends_in_the_store(s3live: tuple[LiveServer, str], weed: Weed, first: int) -> None:
    live, prefix = s3live
    one, two = os.urandom(first), os.urandom(MIB + 1)
    ftp = live.login()
    assert _put(ftp, "a.log", one).startswith("226")
    assert ftp.storbinary("APPE a.log", io.BytesIO(two)).startswith("226")
    assert ftp.storbinary("APPE new.log", io.BytesIO(b"fresh")).startswith("226")
    assert weed.keys(prefix) == {
        f"{prefix}/a.log": len(one) + len(two),
        f"{prefix}/new.log": 5,
    }
    assert _sha(_get(ftp, "a.log")) == _sha(one + two)


def test_directories_are_prefixes_with_markers(s3live: tuple[LiveServer, str], weed: Weed) -> None:
    live, prefix = s3live
    ftp = live.login()
    assert ftp.mkd("empty") == "/empty"
    ftp.mkd("docs")
    _put(ftp, "docs/a.txt", b"a")
    _put(ftp, "top.txt", b"top")
    keys = weed.keys(prefix)
    assert keys[f"{prefix}/empty/"] == 0  # the marker keeps an empty directory
    assert sorted(ftp.nlst()) == ["docs", "empty", "top.txt"]
    facts = {name: f["type"] for name, f in ftp.mlsd()}
    assert facts == {"docs": "dir", "empty": "dir", "top.txt": "file"}
    assert ftp.nlst("docs") == ["a.txt"]
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    assert any(line.startswith("d") and line.endswith(" empty") for line in lines)
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.rmd("docs")  # not empty
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.mkd("docs")  # exists
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.mkd("nowhere/x")  # no parent
    ftp.rmd("empty")
    assert f"{prefix}/empty/" not in weed.keys(prefix)
    ftp.delete("docs/a.txt")  # the last file: the directory stays, by its marker
    assert ftp.nlst("docs") == []
    assert "docs" in ftp.nlst()
    ftp.rmd("docs")
    assert ftp.nlst() == ["top.txt"]
    with pytest.raises(ftplib.error_perm, match="550"):
        ftp.cwd("docs")


def test_renames_copy_and_delete_within_a_bound(s3live: tuple[LiveServer, str], weed: Weed) -> None:
    live, prefix = s3live
    ftp = live.login()
    _put(ftp, "f.txt", b"payload")
    assert ftp.rename("f.txt", "g.txt").startswith("250")
    assert weed.keys(prefix) == {f"{prefix}/g.txt": 7}
    ftp.mkd("small")
    _put(ftp, "small/x", b"x")
    assert ftp.rename("small", "moved").startswith("250")  # marker + one file: within 3
    assert _get(ftp, "moved/x") == b"x"
    assert sorted(ftp.nlst()) == ["g.txt", "moved"]
    ftp.mkd("many")
    for index in range(4):
        _put(ftp, f"many/{index}", b"n")
    with pytest.raises(ftplib.error_perm) as refused:
        ftp.rename("many", "elsewhere")
    assert str(refused.value).startswith("550")
    assert "more than 3 objects" in str(refused.value)
    assert sorted(ftp.nlst("many")) == [str(i) for i in range(4)]  # nothing moved
    assert "elsewhere" not in ftp.nlst()


def test_what_s3_cannot_do_is_refused_with_a_reason(s3live: tuple[LiveServer, str]) -> None:
    live, _ = s3live
    ftp = live.login()
    _put(ftp, "f.txt", b"x")
    with pytest.raises(ftplib.error_perm) as chmod:
        ftp.sendcmd("SITE CHMOD 600 f.txt")
    assert str(chmod.value) == (
        "502 SITE CHMOD is not available here: this storage keeps no permission bits."
    )
    with pytest.raises(ftplib.error_perm) as mfmt:
        ftp.sendcmd("MFMT 20200101000000 f.txt")
    assert str(mfmt.value) == (
        "502 MFMT is not available here: this storage cannot set modification times."
    )
    with pytest.raises(ftplib.error_perm, match="550"):
        _get(ftp, "missing.txt")


def test_each_user_is_a_prefix_of_the_bucket(s3live: tuple[LiveServer, str], weed: Weed) -> None:
    live, prefix = s3live
    live.add_user("bob", "bob-pw", home="bob")
    bob = live.login("bob", "bob-pw")
    _put(bob, "mine.txt", b"bob's")
    alice = live.login()
    assert weed.keys(f"{prefix}/bob/") == {f"{prefix}/bob/mine.txt": 5}
    assert "bob" in alice.nlst()  # alice's home is the whole prefix; bob sees only his
    assert bob.nlst() == ["mine.txt"]
    with pytest.raises(ftplib.error_perm, match="550"):
        bob.cwd("..")  # the root of bob's prefix is his root: nothing above it
    assert bob.pwd() == "/"


def test_virtual_folders_put_local_and_s3_side_by_side(tmp_path: Path, weed: Weed) -> None:
    prefix = unique_prefix()
    storage = {
        "backend": "local",
        "s3": weed.storage_settings(prefix)["s3"],
        "folders": [{"path": "/cloud", "backend": "s3", "location": f"{prefix}/{{user}}"}],
    }
    live = start_server(tmp_path / "data", storage=storage)
    try:
        ftp = live.login()
        _put(ftp, "local.txt", b"on disk")
        _put(ftp, "cloud/remote.txt", b"in the bucket")
        assert (live.files / "local.txt").read_bytes() == b"on disk"
        assert not (live.files / "cloud").exists()
        assert weed.keys(prefix) == {f"{prefix}/{USER}/remote.txt": 13}
        assert sorted(ftp.nlst()) == ["cloud", "local.txt"]
        assert ftp.nlst("cloud") == ["remote.txt"]
        assert _get(ftp, "/cloud/remote.txt") == b"in the bucket"
        with pytest.raises(ftplib.error_perm, match="550 Cannot rename between virtual folders"):
            ftp.rename("local.txt", "cloud/local.txt")
        with pytest.raises(ftplib.error_perm, match="550 /cloud is a virtual folder"):
            ftp.rmd("cloud")
        assert ftp.sendcmd("SITE CHMOD 600 local.txt").startswith("200")  # local: allowed
        assert (live.files / "local.txt").stat().st_mode & 0o777 == 0o600
        with pytest.raises(ftplib.error_perm) as chmod:
            ftp.sendcmd("SITE CHMOD 600 cloud/remote.txt")
        assert str(chmod.value) == (
            "502 SITE CHMOD is not available here: this storage keeps no permission bits."
        )
        assert ftp.sendcmd("MFMT 20200101000000 local.txt").startswith("213")
        with pytest.raises(ftplib.error_perm, match=r"^502 MFMT is not available here"):
            ftp.sendcmd("MFMT 20200101000000 cloud/remote.txt")
        help_lines = ftp.sendcmd("SITE HELP").splitlines()
        marked = [line.split()[1] for line in help_lines if "[not available" in line]
        assert marked == ["CHMOD", "UTIME"]
        assert all(
            line.endswith("[not available in some folders]")
            for line in help_lines
            if "[not available" in line
        )
    finally:
        live.stop()
