"""aioftp's client against pasv: login, transfers both ways, listings, mkdir, rename, remove."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import aioftp
import pytest

from pasv.client.control import close_stream
from tests.interop.helpers import random_bytes, sha256_bytes, sha256_file, write_random
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

SIZE = 1024 * 1024 + 77


@pytest.mark.parametrize(
    ("live_any", "passive"),
    [("127.0.0.1", "epsv"), ("127.0.0.1", "pasv"), ("::1", "epsv")],
    ids=["ipv4-epsv", "ipv4-pasv", "ipv6-epsv"],
    indirect=["live_any"],
)
async def test_aioftp_client_session(live_any: LiveServer, tmp_path: Path, passive: str) -> None:
    live = live_any
    files = live.files
    local = tmp_path / "local.bin"
    local_sha = write_random(local, SIZE, seed=11)
    streamed = random_bytes(700_001, seed=12)
    client = aioftp.Client(
        socket_timeout=10,
        connection_timeout=10,
        path_timeout=10,
        encoding="utf-8",
        passive_commands=(passive,),
    )
    await client.connect(live.host, live.port)
    try:
        await client.login(USER, PASSWORD)
        assert await client.get_current_directory() == PurePosixPath("/")

        await client.make_directory("incoming/sub 子目录")
        assert (files / "incoming" / "sub 子目录").is_dir()
        assert await client.is_dir("incoming/sub 子目录")

        await client.upload(local, "incoming/sub 子目录/data.bin", write_into=True)
        assert sha256_file(files / "incoming" / "sub 子目录" / "data.bin") == local_sha

        async with client.upload_stream("incoming/stream.bin") as stream:
            for start in range(0, len(streamed), 65536):
                await stream.write(streamed[start : start + 65536])
        assert sha256_file(files / "incoming" / "stream.bin") == sha256_bytes(streamed)

        received = bytearray()
        async with client.download_stream("incoming/sub 子目录/data.bin") as stream:
            async for block in stream.iter_by_block():
                received += block
        assert sha256_bytes(bytes(received)) == local_sha

        target = tmp_path / "downloaded.bin"
        await client.download("incoming/stream.bin", str(target), write_into=True)
        assert sha256_file(target) == sha256_bytes(streamed)

        listing = {path.as_posix(): info for path, info in await client.list("incoming")}
        assert set(listing) == {"incoming/sub 子目录", "incoming/stream.bin"}
        assert listing["incoming/sub 子目录"]["type"] == "dir"
        assert listing["incoming/stream.bin"]["type"] == "file"
        assert int(listing["incoming/stream.bin"]["size"]) == len(streamed)
        everything = {path.as_posix() for path, _ in await client.list("/", recursive=True)}
        assert everything == {
            "/incoming",
            "/incoming/sub 子目录",
            "/incoming/sub 子目录/data.bin",
            "/incoming/stream.bin",
        }

        info = await client.stat("incoming/sub 子目录/data.bin")
        assert info["type"] == "file"
        assert int(info["size"]) == SIZE

        await client.rename("incoming/stream.bin", "incoming/renamed 改名.bin")
        assert not (files / "incoming" / "stream.bin").exists()
        assert sha256_file(files / "incoming" / "renamed 改名.bin") == sha256_bytes(streamed)
        assert not await client.exists("incoming/stream.bin")
        assert await client.is_file("incoming/renamed 改名.bin")

        await client.remove("incoming/renamed 改名.bin")
        assert not (files / "incoming" / "renamed 改名.bin").exists()
        await client.remove("incoming")  # recursive: the file, then the directories
        assert not (files / "incoming").exists()
        assert await client.list("/") == []
        await client.quit()
    finally:
        await close_stream(client.stream.writer)  # closed before the test's loop ends
