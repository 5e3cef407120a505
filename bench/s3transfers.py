"""STOR and RETR through S3 (a real SeaweedFS) against the local disk, as ratios in one run.

    python -m bench.s3transfers [--mib 256] [--rounds 3]

Two pasv servers in this process (one with a local home, one with its home on S3), one ftplib
client; rounds interleaved; the median throughput of each, and S3/local.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from tests.support.live import LiveServer, start_server
from tests.support.seaweed import start_weed, unique_prefix

MIB = 1024 * 1024


class Source:
    """``size`` bytes of one repeated 1 MiB block, without holding the file."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = bytes(range(256)) * (MIB // 256)

    def read(self, n: int) -> bytes:
        chunk = self.block[: min(n, self.left)]
        self.left -= len(chunk)
        return chunk


def _round(live: LiveServer, size: int) -> tuple[float, float]:
    ftp = live.login()
    try:
        start = time.perf_counter()
        ftp.storbinary("STOR bench.bin", Source(size), blocksize=MIB)  # type: ignore[arg-type]
        stor = size / (time.perf_counter() - start) / 1e6
        start = time.perf_counter()
        ftp.retrbinary("RETR bench.bin", lambda _: None, blocksize=MIB)
        retr = size / (time.perf_counter() - start) / 1e6
        ftp.delete("bench.bin")
        return stor, retr
    finally:
        ftp.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * MIB
    with tempfile.TemporaryDirectory() as tmp:
        weed = start_weed(Path(tmp) / "weed")
        local = start_server(Path(tmp) / "local", logging={"level": "warning"})
        s3 = start_server(
            Path(tmp) / "s3",
            logging={"level": "warning"},
            storage=weed.storage_settings(unique_prefix(), read_timeout=60.0),
        )
        try:
            results: dict[str, list[tuple[float, float]]] = {"local": [], "s3": []}
            for _ in range(args.rounds):
                results["local"].append(_round(local, size))
                results["s3"].append(_round(s3, size))
        finally:
            s3.stop()
            local.stop()
            weed.kill()
    med = {
        name: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for name, runs in results.items()
    }
    print(f"{args.mib} MiB, {args.rounds} rounds, medians (MB/s)")
    print(f"{'':6} {'STOR':>9} {'RETR':>9}")
    for name, (stor, retr) in med.items():
        print(f"{name:6} {stor:9.1f} {retr:9.1f}")
    ratio_stor = med["s3"][0] / med["local"][0]
    ratio_retr = med["s3"][1] / med["local"][1]
    print(f"S3/local STOR {ratio_stor:.3f}, RETR {ratio_retr:.3f}")


if __name__ == "__main__":
    main()
