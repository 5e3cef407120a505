"""Small files and listings with real clients. Up to 16 KiB, a transfer that ends in its first
step gets its 150 and 226 in one write, after the data connection has closed; the 64 KiB file
gets its 150 first. curl, wget, lftp, aioftp and ftplib must each get every file whole and
every listing complete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aioftp
import pytest

from tests.interop.helpers import base_url, require, sha256_bytes, sha256_file, write_random
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SIZES = (0, 1, 4096, 65_536)  # the empty file too: 150, no data, 226


def _small_files(live: LiveServer) -> dict[str, str]:
    return {
        f"s{size}.bin": write_random(live.files / f"s{size}.bin", size, seed=size) for size in SIZES
    }


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, timeout=60, check=False)
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, f"{command[0]} exited {done.returncode}:\n{output}"
    return output


def test_curl_gets_small_files_and_a_listing(live: LiveServer, tmp_path: Path) -> None:
    expected = _small_files(live)
    curl = require("curl")
    for name, digest in expected.items():
        _run([curl, "-sS", "--max-time", "20", "-u", f"{USER}:{PASSWORD}",
              "-o", name, base_url(live) + name], tmp_path)  # fmt: skip
        assert sha256_file(tmp_path / name) == digest, name
    listing = _run([curl, "-sS", "--max-time", "20", "-l", "-u", f"{USER}:{PASSWORD}",
                    base_url(live)], tmp_path)  # fmt: skip
    assert set(listing.split()) >= set(expected)


def test_wget_gets_small_files_and_a_listing(live: LiveServer, tmp_path: Path) -> None:
    expected = _small_files(live)
    wget = require("wget")
    auth = [f"--user={USER}", f"--password={PASSWORD}", "--tries=1", "--timeout=20", "-q"]
    for name, digest in expected.items():
        _run([wget, *auth, "-O", name, base_url(live) + name], tmp_path)
        assert sha256_file(tmp_path / name) == digest, name
    _run([wget, *auth, "--no-remove-listing", "-O", "index.html", base_url(live)], tmp_path)
    listing = (tmp_path / ".listing").read_text(errors="replace")
    assert all(name in listing for name in expected), listing


def test_lftp_gets_small_files(live: LiveServer, tmp_path: Path) -> None:
    expected = _small_files(live)
    lftp = require("lftp")
    script = (
        "set ftp:passive-mode on; set net:max-retries 1; set net:timeout 10; "
        "set cmd:fail-exit yes; set ftp:ssl-allow no; mget s*.bin; cls -1; bye"
    )
    out = _run([lftp, "-e", script, "-u", f"{USER},{PASSWORD}",
                f"ftp://{live.host}:{live.port}"], tmp_path)  # fmt: skip
    for name, digest in expected.items():
        assert sha256_file(tmp_path / name) == digest, name
        assert name in out


async def test_aioftp_gets_small_files(live: LiveServer) -> None:
    expected = _small_files(live)
    client = aioftp.Client(socket_timeout=10, connection_timeout=10, path_timeout=10)
    await client.connect(live.host, live.port)
    try:
        await client.login(USER, PASSWORD)
        for name, digest in expected.items():
            received = bytearray()
            async with client.download_stream(name) as stream:
                async for block in stream.iter_by_block():
                    received += block
            assert sha256_bytes(bytes(received)) == digest, name
        names = {path.name for path, _ in await client.list()}
        assert names >= set(expected)
    finally:
        await client.quit()


def test_ftplib_gets_small_files_one_after_another(live: LiveServer) -> None:
    expected = _small_files(live)
    ftp = live.login()
    for _ in range(25):  # a session that keeps fetching small files, as a sync job does
        for name, digest in expected.items():
            chunks: list[bytes] = []
            assert ftp.retrbinary(f"RETR {name}", chunks.append).startswith("226")
            assert sha256_bytes(b"".join(chunks)) == digest, name
    assert set(ftp.nlst()) >= set(expected)
    assert ftp.voidcmd("NOOP").startswith("200")
