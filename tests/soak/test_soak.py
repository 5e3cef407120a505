"""`make soak`: 500 concurrent sessions (aioftp clients) uploading and downloading for 60 s
against `pasv serve` in its own process. Zero corrupted files, zero errors, server memory
bounded; the figures are printed (docs/reliability.md keeps a run's)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aioftp
import pytest

from tests.cli.support import _free_port, _read_until, _serve, stop  # noqa: F401 - fixture

SESSIONS = int(os.environ.get("SOAK_SESSIONS", "500"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
MAX_RSS_MIB = 256  # generous: 80 MiB measured (400 MiB before the upload buffers were mapped)


def raise_nofile(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class Tally:
    logged_in: int = 0
    uploads: int = 0
    downloads: int = 0
    bytes_moved: int = 0
    corrupted: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def _session(
    index: int, port: int, login: tuple[str, str], tally: Tally, start: asyncio.Event,
    deadline_box: list[float],
) -> None:  # fmt: skip
    rng = random.Random(index)
    client = aioftp.Client(socket_timeout=120, connection_timeout=120, path_timeout=120)
    try:
        await client.connect("127.0.0.1", port)
        await client.login(*login)
        tally.logged_in += 1
        await start.wait()
        n = 0
        while time.monotonic() < deadline_box[0]:
            payload = rng.randbytes(rng.randint(1, 256 * 1024))
            name = f"s{index}-{n % 3}.bin"
            n += 1
            async with client.upload_stream(name) as stream:
                await stream.write(payload)
            tally.uploads += 1
            got = bytearray()
            async with client.download_stream(name) as stream:
                async for block in stream.iter_by_block():
                    got += block
            tally.downloads += 1
            tally.bytes_moved += len(payload) + len(got)
            if hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
                tally.corrupted.append(name)
        await client.quit()
    except Exception as exc:  # counted and reported: the test fails on any
        tally.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
        client.close()


async def _run(port: int, login: tuple[str, str], server_pid: int) -> dict[str, float]:
    tally = Tally()
    start = asyncio.Event()
    deadline_box = [0.0]
    base = rss_mib(server_pid)
    tasks = [
        asyncio.create_task(_session(i, port, login, tally, start, deadline_box))
        for i in range(SESSIONS)
    ]
    await asyncio.wait_for(_all_logged_in(tally), 300)
    idle = rss_mib(server_pid)
    deadline_box[0] = time.monotonic() + SECONDS
    started = time.monotonic()
    start.set()
    peak = idle
    while not all(t.done() for t in tasks):
        await asyncio.sleep(0.5)  # sampling period of the memory figure
        peak = max(peak, rss_mib(server_pid))
        assert time.monotonic() < deadline_box[0] + 300, "sessions did not finish"
    elapsed = time.monotonic() - started
    assert not tally.errors, tally.errors.most_common(5)
    assert not tally.corrupted, tally.corrupted[:5]
    assert tally.uploads > SESSIONS  # every session did more than one round
    return {
        "sessions": SESSIONS,
        "seconds": round(elapsed, 1),
        "uploads": tally.uploads,
        "downloads": tally.downloads,
        "mib_moved": round(tally.bytes_moved / 2**20),
        "rss_base_mib": round(base, 1),
        "rss_idle_sessions_mib": round(idle, 1),
        "kib_per_idle_session": round((idle - base) * 1024 / SESSIONS, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_after_mib": round(rss_mib(server_pid), 1),
    }


async def _all_logged_in(tally: Tally) -> None:
    while tally.logged_in < SESSIONS:
        assert not tally.errors, tally.errors.most_common(5)
        await asyncio.sleep(0.1)


@pytest.mark.slow
def test_soak_500_sessions(tmp_path: Path, stop: list, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    nofile = raise_nofile()
    assert nofile >= 4 * SESSIONS + 100, f"RLIMIT_NOFILE {nofile} is too low for the soak"
    port = _free_port()
    proc = _serve(tmp_path / "data", port)
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    server_pid = int(re.search(r"pid (\d+)", lines[-1]).group(1))  # type: ignore[union-attr]
    figures = asyncio.run(_run(port, (user, password), server_pid))
    with capsys.disabled():
        print("\nsoak:", ", ".join(f"{k} {v}" for k, v in figures.items()))
    assert figures["rss_peak_mib"] < MAX_RSS_MIB
