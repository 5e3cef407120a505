"""`make soak`: 2,000 uploads through curl, lftp, ftplib, the pasv client and a hostile client,
in clear, explicit and implicit FTPS, 0-8 MiB, to a standard and an atomic server, with both
cores kept busy. Every success must be the source's sha256; every failure must leave a clean
prefix (standard) or nothing (atomic). Bounded in count (UPLOAD_SOAK_COUNT) and time."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from pasv.client import ClientOptions, FtpClient
from tests.cli.support import Pasv, _free_port, _read_until, _serve
from tests.interop.helpers import require
from tests.support.ftps import ReusingFTP_TLS, make_pki

pytestmark = pytest.mark.slow

COUNT = int(os.environ.get("UPLOAD_SOAK_COUNT", "2000"))
DEADLINE = float(os.environ.get("UPLOAD_SOAK_SECONDS", "1500"))
CLIENTS = ("curl", "lftp", "ftplib", "pasv", "hostile")
SECURITY = ("plain", "explicit", "implicit")
USER, PASSWORD = "soak", "soak-pw"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Target:
    mode: str
    port: int
    implicit_port: int
    files: Path


@dataclass(frozen=True)
class Source:
    path: Path
    data: bytes
    digest: str


def _sources(directory: Path, rng: random.Random) -> list[Source]:
    sizes = [0, 1, 4095, 65536, 65537, MIB - 1, 2 * MIB + 333, 8 * MIB]
    sizes += [rng.randint(0, 8 * MIB) for _ in range(8)]
    out = []
    for index, size in enumerate(sizes):
        data = rng.randbytes(size)
        path = directory / f"src{index}.bin"
        path.write_bytes(data)
        out.append(Source(path, data, hashlib.sha256(data).hexdigest()))
    return out


@pytest.fixture
def burners() -> Iterator[None]:
    """Two processes that keep both cores busy for the whole run (and never longer)."""
    spin = f"import time\nend = time.monotonic() + {DEADLINE}\nwhile time.monotonic() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    yield
    for proc in procs:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[tuple[list[Target], Path]]:
    pki = make_pki(tmp_path / "pki")
    procs: list[subprocess.Popen[str]] = []
    out = []
    for mode in ("standard", "atomic"):
        data = tmp_path / mode
        Pasv(data).ok("user", "add", USER, "--password", PASSWORD)
        config = tmp_path / f"{mode}.toml"
        config.write_text(
            f'[uploads]\nmode = "{mode}"\n[login]\nmax_failures = 100\n'
            "[server]\nmax_sessions = 200\n"
        )
        port, implicit = _free_port(), _free_port()
        proc = _serve(
            data, port, "--implicit-port", str(implicit), "--certificate", str(pki.chain_file),
            "--config", str(config),
        )  # fmt: skip
        procs.append(proc)
        _read_until(proc, r"listening on")
        out.append(Target(mode, port, implicit, data / "files"))
    yield out, pki.ca_file
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _context(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def _curl(target: Target, security: str, source: Source, name: str, ca: Path) -> bool:
    command = [require("curl"), "-sS", "--max-time", "120", "-u", f"{USER}:{PASSWORD}"]
    command += ["-T", str(source.path), "--cacert", str(ca)]
    if security == "implicit":
        command.append(f"ftps://127.0.0.1:{target.implicit_port}/{name}")
    else:
        command += ["--ssl-reqd"] if security == "explicit" else []
        command.append(f"ftp://127.0.0.1:{target.port}/{name}")
    return subprocess.run(command, capture_output=True, timeout=180, check=False).returncode == 0


def _lftp(target: Target, security: str, source: Source, name: str, ca: Path) -> bool:
    settings = "set net:max-retries 1; set net:timeout 60; set cmd:fail-exit yes; "
    settings += f"set ssl:ca-file {ca}; "
    if security == "plain":
        settings += "set ftp:ssl-allow no; "
        url = f"ftp://127.0.0.1:{target.port}"
    elif security == "explicit":
        settings += "set ftp:ssl-force true; set ftp:ssl-protect-data true; "
        url = f"ftp://127.0.0.1:{target.port}"
    else:
        settings += "set ftp:ssl-protect-data true; "
        url = f"ftps://127.0.0.1:{target.implicit_port}"
    script = f"{settings}put {source.path} -o {name}; bye"
    done = subprocess.run(
        [require("lftp"), "-e", script, "-u", f"{USER},{PASSWORD}", url],
        capture_output=True, timeout=180, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.returncode == 0


def _ftplib_session(target: Target, security: str, ca: Path) -> ftplib.FTP:
    if security == "plain":
        ftp = ftplib.FTP(timeout=120)
        ftp.connect("127.0.0.1", target.port)
        ftp.login(USER, PASSWORD)
        return ftp
    ctx = _context(ca)
    tls = ReusingFTP_TLS(context=ctx, timeout=120)
    if security == "explicit":
        tls.connect("127.0.0.1", target.port)
        tls.auth()
    else:
        raw = socket.create_connection(("127.0.0.1", target.implicit_port), timeout=120)
        tls.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.af, tls.host = tls.sock.family, "127.0.0.1"
        tls.file = tls.sock.makefile("r", encoding=tls.encoding)
        tls.welcome = tls.getresp()
    tls.login(USER, PASSWORD)
    tls.prot_p()
    return tls


def _ftplib(target: Target, security: str, source: Source, name: str, ca: Path) -> bool:
    ftp = _ftplib_session(target, security, ca)
    try:
        with source.path.open("rb") as handle:
            return ftp.storbinary(f"STOR {name}", handle).startswith("226")
    except ftplib.Error:
        return False
    finally:
        ftp.close()


def _pasv(target: Target, security: str, source: Source, name: str, ca: Path) -> bool:
    implicit = security == "implicit"
    options = ClientOptions(
        tls=security == "explicit", implicit_tls=implicit, ssl_context=_context(ca), timeout=120
    )

    async def run() -> None:
        port = target.implicit_port if implicit else target.port
        async with FtpClient(options) as client:
            await client.connect("127.0.0.1", port)
            await client.login(USER, PASSWORD)
            with source.path.open("rb") as handle:
                await client.upload(name, handle.read)

    try:
        asyncio.run(run())
    except Exception:  # any failure is a failed upload, checked by the caller
        return False
    return True


def _hostile(target: Target, security: str, source: Source, name: str, ca: Path) -> bool:
    """Send part of the file, then end without close_notify (TLS) or with a reset (clear)."""
    ftp = _ftplib_session(target, security, ca)
    try:
        raw, _ = ftplib.FTP.ntransfercmd(ftp, f"STOR {name}")
        conn: socket.socket = raw
        if security != "plain":
            conn = ftp.context.wrap_socket(  # type: ignore[attr-defined]
                raw, server_hostname="127.0.0.1", session=ftp.sock.session
            )
        conn.sendall(source.data[: len(source.data) // 2])
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        try:
            return ftp.voidresp().startswith("226")
        except ftplib.Error:
            return False
    finally:
        ftp.close()


UPLOADERS = {"curl": _curl, "lftp": _lftp, "ftplib": _ftplib, "pasv": _pasv, "hostile": _hostile}


def test_every_226_is_the_whole_file(
    tmp_path: Path, burners: None, targets: tuple[list[Target], Path]
) -> None:
    servers, ca = targets
    rng = random.Random(2026)
    sources = _sources(tmp_path, rng)
    jobs = [
        (CLIENTS[i % 5], SECURITY[(i // 5) % 3], servers[i % 2], rng.choice(sources), f"u{i}.bin")
        for i in range(COUNT)
    ]
    deadline = time.monotonic() + DEADLINE
    outcome: Counter[str] = Counter()
    bad: list[str] = []

    def run(job: tuple[str, str, Target, Source, str]) -> None:
        client, security, target, source, name = job
        if time.monotonic() > deadline:
            outcome["skipped: out of time"] += 1
            return
        ok = UPLOADERS[client](target, security, source, name, ca)
        stored = target.files / name
        got = stored.read_bytes() if stored.exists() else None
        key = f"{client}/{security}/{target.mode}"
        if ok:
            outcome[f"226 {key}"] += 1
            if got is None or hashlib.sha256(got).hexdigest() != source.digest:
                bad.append(f"{key} {name}: 226 but {len(got or b'')} of {len(source.data)} bytes")
        else:
            outcome[f"failed {key}"] += 1
            if target.mode == "atomic" and got is not None:
                bad.append(f"{key} {name}: failed, yet {len(got)} bytes are in place")
            if got is not None and not source.data.startswith(got):
                bad.append(f"{key} {name}: failed, and what is kept is not a prefix")
            if client != "hostile":
                bad.append(f"{key} {name}: a well-behaved client failed")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, jobs))
    print("\nupload soak:", dict(sorted(outcome.items())))
    assert not bad, "\n".join(bad[:20])
    assert outcome["skipped: out of time"] == 0
    assert sum(v for k, v in outcome.items() if k.startswith("226 ")) >= COUNT * 4 // 5 - 50
