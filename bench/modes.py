"""What MODE Z gains on text and costs on data that is already compressed.

    .venv/bin/python -m bench.modes [--quick] [--runs N]

One pasv server on 127.0.0.1; ftplib as the client (zlib on its side, at the same level).
For a text file (log lines) and a random one (what deflate sees in archives, media and
encrypted files), RETR and STOR in MODE S and in MODE Z at levels 1 and 6: bytes on the data
connection, the server's CPU seconds (from /proc), and the loopback rate. Loopback is far
faster than any network, so the table also gives the time at 100 Mbit/s, estimated as the
slower of the wire bytes at that rate and the measured loopback time. Medians of the rounds.
"""

from __future__ import annotations

import argparse
import ftplib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

from bench import files, servers

MIB = 1024 * 1024
LINK = 100e6 / 8  # 100 Mbit/s in bytes per second
VARIANTS = (("S", None), ("Z1", 1), ("Z6", 6))
WORDS = ("GET", "POST", "/api/v1/items", "/static/app.js", "200", "304", "404", "ms", "user")


def write_text(path: Path, size: int) -> None:
    """Log-like lines: timestamps, paths, codes, numbers (deflate keeps about a fifth)."""
    rng = random.Random(18)
    with path.open("wb") as out:
        written, n = 0, 0
        while written < size:
            lines = []
            for _ in range(1000):
                n += 1
                words = " ".join(rng.choice(WORDS) for _ in range(4))
                stamp = 1_700_000_000 + n // 3
                lines.append(
                    f"{stamp} 10.0.{n % 256}.{rng.randrange(256)} {words} {rng.random():.6f}\n"
                )
            chunk = "".join(lines).encode()[: size - written]
            out.write(chunk)
            written += len(chunk)


def cpu_seconds(root: int) -> float:
    """User + system CPU of the server's processes (as root: the supervisor and its worker)."""
    total = 0
    for pid in servers.tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def login(srv: servers.Server, level: int | None) -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=120)
    ftp.connect(servers.HOST, srv.port)
    ftp.login(srv.user, srv.password)
    ftp.voidcmd("TYPE I")
    if level is not None:
        ftp.voidcmd(f"OPTS MODE Z LEVEL {level}")
        ftp.voidcmd("MODE Z")
    return ftp


def retr(ftp: ftplib.FTP, name: str, level: int | None) -> tuple[int, int]:
    """(file bytes, wire bytes)."""
    conn = ftp.transfercmd(f"RETR {name}")
    inflate = zlib.decompressobj() if level is not None else None
    wire = size = 0
    buffer = bytearray(MIB)
    while got := conn.recv_into(buffer):
        wire += got
        size += len(inflate.decompress(buffer[:got])) if inflate else got
    conn.close()
    ftp.voidresp()
    if inflate is not None and not inflate.eof:
        raise ValueError("the deflate stream did not end")
    return size, wire


def stor(ftp: ftplib.FTP, name: str, source: Path, level: int | None) -> tuple[int, int]:
    conn = ftp.transfercmd(f"STOR {name}")
    deflate = zlib.compressobj(level) if level is not None else None
    wire = size = 0
    with source.open("rb") as f:
        while chunk := f.read(MIB):
            size += len(chunk)
            out = deflate.compress(chunk) if deflate else chunk
            conn.sendall(out)
            wire += len(out)
    if deflate is not None:
        tail = deflate.flush()
        conn.sendall(tail)
        wire += len(tail)
    conn.close()
    ftp.voidresp()
    return size, wire


def measure(srv: servers.Server, source: Path, level: int | None) -> dict[str, dict[str, float]]:
    assert srv.proc is not None and srv.root is not None
    out: dict[str, dict[str, float]] = {}
    for verb in ("RETR", "STOR"):
        ftp = login(srv, level)
        cpu, started = cpu_seconds(srv.proc.pid), time.perf_counter()
        if verb == "RETR":
            size, wire = retr(ftp, source.name, level)
        else:
            size, wire = stor(ftp, f"up-{source.name}", source, level)
        seconds = time.perf_counter() - started
        used = cpu_seconds(srv.proc.pid) - cpu
        ftp.quit()
        if size != source.stat().st_size:
            raise ValueError(f"{verb} moved {size} of {source.stat().st_size} bytes")
        out[verb] = {"wire": wire / size, "cpu": used, "rate": size / seconds,
                     "link": max(wire / LINK, seconds)}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.modes", description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    size = (16 if args.quick else 128) * MIB
    work = Path(tempfile.mkdtemp(prefix="pasv-bench-modes-"))
    srv: servers.Server | None = None
    table: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    try:
        tpl = files.make_template(work, files.QUICK)
        srv = servers.start_pasv(work, tpl, files.QUICK, (23000, 23099), None, name="pasv-modes")
        if not srv.ok or srv.root is None:
            print(f"pasv: {srv.status} {srv.reason}", file=sys.stderr)
            return 1
        text, noise = srv.root / "text.log", srv.root / "random.bin"
        write_text(text, size)
        with noise.open("wb") as f:
            for _ in range(size // MIB):
                f.write(os.urandom(MIB))
        for _ in range(args.runs):
            for source in (text, noise):
                for variant, level in VARIANTS:
                    for verb, row in measure(srv, source, level).items():
                        table.setdefault((source.name, verb, variant), []).append(row)
    finally:
        if srv is not None:
            servers.stop(srv)
        shutil.rmtree(work, ignore_errors=True)
    print(f"MODE Z, {size // MIB} MiB files, medians of {args.runs} rounds (loopback):")
    print(f"{'file':<12}{'verb':<6}{'mode':<6}{'wire/file':>10}{'server CPU s':>14}"
          f"{'MB/s':>9}{'s @100Mbit/s':>14}{'vs S':>7}")  # fmt: skip
    for (name, verb, variant), rows in table.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        base = statistics.median(r["link"] for r in table[(name, verb, "S")])
        gain = base / med["link"]
        print(f"{name:<12}{verb:<6}{variant:<6}{med['wire']:>10.3f}{med['cpu']:>14.2f}"
              f"{med['rate'] / 1e6:>9.0f}{med['link']:>14.2f}{gain:>7.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
