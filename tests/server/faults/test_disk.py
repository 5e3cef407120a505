"""Storage faults on a real file system: a full disk (a small tmpfs mounted by the test), a
read-only one, names too long, symlink loops. Each maps to its own reply code, and an upload
that did not complete is never recorded or counted as complete."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.helpers import code_of, retr_bytes
from tests.server.hostile.support import assert_served
from tests.support.live import LiveServer, start_server

DISK_BYTES = 2 * 1024 * 1024


def _mount(target: Path, options: str) -> None:
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount(disk, f"size={DISK_BYTES},mode=0755")
    try:
        yield disk
    finally:
        _umount(disk)


@pytest.fixture
def on_small_disk(small_disk: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """pasv whose files live on the small disk (accounts and xferlog stay on the big one)."""
    live = start_server(
        tmp_path / "data", logging={"xferlog": str(tmp_path / "xferlog"), "level": "debug"}
    )
    live.add_user("bob", "pw-bob-pw", home=str(small_disk))
    live.policy.set_option("user:bob", "quota_bytes", 100 * 1024 * 1024)
    live.reload_policy()
    yield live
    live.stop()


def _xferlog(tmp_path: Path) -> list[list[str]]:
    """The transfer log's lines split into fields (written unbuffered, with O_APPEND)."""
    return [line.split() for line in (tmp_path / "xferlog").read_text().splitlines()]


def test_full_disk_is_452_and_nothing_is_recorded_complete(
    on_small_disk: LiveServer, small_disk: Path, tmp_path: Path
) -> None:
    live = on_small_disk
    ftp = live.login("bob", "pw-bob-pw")
    payload = os.urandom(3 * 1024 * 1024)  # more than the disk holds
    ftp.voidcmd("TYPE I")
    with ftp.transfercmd("STOR big.bin") as conn, contextlib.suppress(OSError):
        conn.sendall(payload)  # the server may stop reading (and close) before the end
    with pytest.raises(ftplib.error_temp) as caught:
        ftp.voidresp()
    assert code_of(caught.value) == 452, caught.value
    kept = (small_disk / "big.bin").stat().st_size if (small_disk / "big.bin").exists() else 0
    assert kept < len(payload)
    # the partial file (if kept for a resume) is what is stored and counted, no more
    usage = live.policy.usage("bob")
    assert usage is not None
    assert usage.bytes_used == kept
    assert ftp.voidcmd("NOOP").startswith("200")  # the session goes on
    entries = [e for e in _xferlog(tmp_path) if e[8].endswith("big.bin")]
    assert len(entries) == 1 and entries[0][-1] == "i", entries  # incomplete
    if kept:  # kept for a resume: what is there is the start of the upload, not garbage
        assert ftp.size("big.bin") == kept
        assert retr_bytes(ftp, "big.bin") == payload[:kept]
        ftp.delete("big.bin")
    small = os.urandom(100_000)  # once there is room again, uploads work
    ftp.storbinary("STOR small.bin", io.BytesIO(small))
    assert retr_bytes(ftp, "small.bin") == small
    assert_served(live)  # alice, on the big disk, never noticed


def test_no_inodes_left_is_452(tmp_path: Path) -> None:
    """Empty directories cost tmpfs no blocks, only inodes: a disk with 16 runs out of them."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "few-inodes"
    disk.mkdir()
    _mount(disk, "size=1m,nr_inodes=16,mode=0755")
    live = start_server(tmp_path / "data")
    try:
        live.add_user("bob", "pw-bob-pw", home=str(disk))
        ftp = live.login("bob", "pw-bob-pw")
        made = 0
        with pytest.raises(ftplib.error_temp) as caught:
            for made in range(32):
                ftp.mkd(f"d{made}")
        assert code_of(caught.value) == 452, caught.value
        assert 0 < made < 16
        assert ftp.voidcmd("NOOP").startswith("200")
    finally:
        live.stop()
        _umount(disk)


def test_read_only_file_system_is_550(small_disk: Path, tmp_path: Path) -> None:
    (small_disk / "kept.txt").write_bytes(b"still readable")
    _mount_remount_ro(small_disk)
    live = start_server(tmp_path / "data")
    try:
        live.add_user("bob", "pw-bob-pw", home=str(small_disk))
        ftp = live.login("bob", "pw-bob-pw")
        for call in (
            lambda: ftp.storbinary("STOR new.txt", io.BytesIO(b"x")),
            lambda: ftp.mkd("dir"),
            lambda: ftp.delete("kept.txt"),
            lambda: ftp.rename("kept.txt", "moved.txt"),
        ):
            with pytest.raises(ftplib.error_perm) as caught:
                call()
            assert code_of(caught.value) == 550
            assert "Read-only file system" in str(caught.value)
        assert retr_bytes(ftp, "kept.txt") == b"still readable"
    finally:
        live.stop()


def _mount_remount_ro(target: Path) -> None:
    result = subprocess.run(
        ["mount", "-o", "remount,ro", str(target)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot remount read-only: {result.stderr.strip()}")


def test_name_too_long_is_553_and_symlink_loop_is_550(live: LiveServer) -> None:
    (live.files / "loop").symlink_to("loop")
    ftp = live.login()
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary("STOR " + "n" * 300, io.BytesIO(b"x"))
    assert code_of(caught.value) == 553
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.mkd("m" * 300)
    assert code_of(caught.value) == 553
    with pytest.raises(ftplib.error_perm) as caught:
        retr_bytes(ftp, "loop")
    assert code_of(caught.value) == 550
    assert ftp.voidcmd("NOOP").startswith("200")
