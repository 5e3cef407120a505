"""2 GiB up and down through S3 (a real SeaweedFS) with `pasv serve` as its own process: the
server's peak RSS grows by a bounded amount, however large the file (multipart streaming)."""

from __future__ import annotations

import ftplib
import hashlib
import re
from pathlib import Path

import pytest

from tests.cli import support
from tests.cli.support import _free_port, _read_until, _serve
from tests.support.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY, Weed, unique_prefix

stop = support.stop

MIB = 1024 * 1024
SIZE = 2 * 1024 * MIB
BOUND = 64 * MIB  # two 8 MiB parts, two 1 MiB receive buffers, the HTTP client's buffers


class Pattern:
    """A 2 GiB file made on the fly (a 4 MiB random block, each copy numbered), hashed as sent."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = bytearray(hashlib.sha256(b"pasv").digest() * (4 * MIB // 32))
        self.count = 0
        self.sha = hashlib.sha256()

    def read(self, n: int) -> bytes:
        if self.left <= 0:
            return b""
        self.count += 1
        self.block[:8] = self.count.to_bytes(8, "big")
        chunk = bytes(self.block[: min(n, self.left, len(self.block))])
        self.left -= len(chunk)
        self.sha.update(chunk)
        return chunk


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


@pytest.mark.timeout(900)
def test_two_gib_through_s3_keeps_server_memory_flat(
    tmp_path: Path, weed: Weed, stop: list
) -> None:
    prefix = unique_prefix()
    config = tmp_path / "pasv.toml"
    config.write_text(
        f"""
[storage]
backend = "s3"

[storage.s3]
endpoint = "{weed.endpoint}"
bucket = "{BUCKET}"
prefix = "{prefix}"
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET_KEY}"
"""
    )
    port = _free_port()
    proc = _serve(tmp_path / "data", port, "--config", str(config))
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    pid = int(re.search(r"pid (\d+)", lines[-1]).group(1))  # type: ignore[union-attr]
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=120)
        ftp.login(user, password)
        warm = Pattern(9 * MIB)  # the S3 client, its connections and one multipart upload
        ftp.storbinary("STOR warm.bin", warm, blocksize=MIB)  # type: ignore[arg-type]
        ftp.retrbinary("RETR warm.bin", lambda _: None, blocksize=MIB)
        baseline = _status(pid)["VmRSS"]
        source = Pattern(SIZE)
        assert ftp.storbinary("STOR big.bin", source, blocksize=MIB).startswith("226")  # type: ignore[arg-type]
        after_upload = _status(pid)["VmHWM"]
        assert weed.keys(f"{prefix}/big.bin") == {f"{prefix}/big.bin": SIZE}
        received = hashlib.sha256()
        got = 0

        def take(chunk: bytes) -> None:
            nonlocal got
            got += len(chunk)
            received.update(chunk)

        assert ftp.retrbinary("RETR big.bin", take, blocksize=MIB).startswith("226")
        peak = _status(pid)["VmHWM"]
    assert got == SIZE
    assert received.hexdigest() == source.sha.hexdigest()
    print(
        f"server RSS after warm-up {baseline / MIB:.1f} MiB; peak after the 2 GiB upload "
        f"{after_upload / MIB:.1f} MiB, after the download {peak / MIB:.1f} MiB "
        f"(growth {(peak - baseline) / MIB:.1f} MiB)"
    )
    assert peak - baseline < BOUND
