"""aiobotocore against obstore on a real SeaweedFS: client CPU per byte and peak memory for a
streamed multipart PUT and a streamed GET, each run in a fresh process.

    python -m bench.s3clients [--mib 512] [--rounds 3]

obstore is an optional extra (``pip install -e '.[s3bench]'``); without it only aiobotocore runs.
The aiobotocore side is pasv's own S3 code (S3WriteHandle, S3ReadHandle), 8 MiB parts, two held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
CHUNK = MIB  # what the FTP receive loop hands to storage


def _usage() -> tuple[float, int]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss * 1024


async def _chunks(size: int) -> AsyncIterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    for _ in range(size // CHUNK):
        yield block


async def _aiobotocore(endpoint: str, op: str, size: int, key: str = "blob") -> None:
    from tests.support.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY

    from pasv.storage.s3 import S3Storage
    from pasv.storage.s3client import S3Connection, S3Location

    conn = S3Connection(S3Location(endpoint, BUCKET, access_key=ACCESS_KEY, secret_key=SECRET_KEY))
    store = S3Storage(conn, "bench")
    try:
        if op == "put":
            handle = await store.open_write(f"/{key}")
            async for chunk in _chunks(size):
                await handle.write(chunk)
            await handle.commit()
            await handle.close()
        else:
            reader = await store.open_read(f"/{key}")
            while await reader.read(CHUNK):
                pass
            await reader.close()
    finally:
        await conn.aclose()


async def _obstore(endpoint: str, op: str, size: int, key: str = "blob") -> None:
    import obstore
    from obstore.store import S3Store
    from tests.support.seaweed import ACCESS_KEY, BUCKET, SECRET_KEY

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    if op == "put":
        await obstore.put_async(
            store, f"bench/{key}", _chunks(size), chunk_size=8 * MIB, max_concurrency=2
        )
    else:
        response = await obstore.get_async(store, f"bench/{key}")
        async for _ in response.stream(min_chunk_size=CHUNK):
            pass


def one(client: str, endpoint: str, op: str, size: int) -> dict[str, Any]:
    run = _aiobotocore if client == "aiobotocore" else _obstore
    asyncio.run(run(endpoint, "put", CHUNK * 2, "warm"))  # imports, first connection
    cpu0, rss0 = _usage()
    asyncio.run(run(endpoint, op, size))
    cpu1, rss1 = _usage()
    return {"cpu": cpu1 - cpu0, "rss_before": rss0, "rss_peak": rss1}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", nargs=4, metavar=("CLIENT", "ENDPOINT", "OP", "SIZE"))
    args = parser.parse_args()
    if args.one:
        client, endpoint, op, size = args.one
        print(json.dumps(one(client, endpoint, op, int(size))))
        return
    from tests.support.seaweed import start_weed

    clients = ["aiobotocore"]
    try:
        import obstore  # noqa: F401

        clients.append("obstore")
    except ImportError:
        print("obstore not installed: only aiobotocore is measured")
    size = args.mib * MIB
    with tempfile.TemporaryDirectory() as tmp:
        weed = start_weed(Path(tmp))
        try:
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for _ in range(args.rounds):
                for client in clients:
                    for op in ("put", "get"):
                        out = subprocess.run(
                            [sys.executable, "-m", "bench.s3clients", "--one", client,
                             weed.endpoint, op, str(size)],
                            capture_output=True, text=True, check=False,
                        )  # fmt: skip
                        # obstore's runtime at times aborts at interpreter exit, after the
                        # measurement was printed: the figure counts, the abort is reported
                        if not out.stdout.strip():
                            raise RuntimeError(f"{client} {op} failed: {out.stderr[-2000:]}")
                        if out.returncode:
                            print(f"note: {client} {op} exited {out.returncode} after measuring")
                        results.setdefault((client, op), []).append(json.loads(out.stdout))
        finally:
            weed.kill()
    print(f"{args.mib} MiB per run, {args.rounds} rounds; client process CPU (user+sys)")
    for (client, op), runs in results.items():
        cpu = sorted(r["cpu"] for r in runs)
        grow = max(r["rss_peak"] - r["rss_before"] for r in runs)
        per_gib = [c / (size / 1024**3) for c in cpu]
        print(
            f"{client:12} {op}: CPU s/GiB min {per_gib[0]:.2f} median "
            f"{per_gib[len(per_gib) // 2]:.2f}; peak RSS growth {grow / MIB:.1f} MiB"
        )


if __name__ == "__main__":
    main()
