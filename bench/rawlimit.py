"""The raw loopback limit: socket.sendfile in one process, recv_into a reused buffer in another."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from types import TracebackType

from bench.ftpclient import MIB, drain, require_loopback

HOST = "127.0.0.1"


def serve(path: str, count: int) -> None:
    """Sender side (own process): accept `count` readers, sendfile the whole file to each."""
    require_loopback(HOST)
    with socket.create_server((HOST, 0)) as srv:
        print(srv.getsockname()[1], flush=True)
        for _ in range(count):
            conn, _addr = srv.accept()
            with conn, open(path, "rb") as f:
                conn.sendfile(f)


class RawSender:
    """A sender subprocess serving `count` transfers; `fetch()` reads one and returns bytes/s."""

    def __init__(self, path: str, count: int, timeout: float = 120.0) -> None:
        self.timeout = timeout
        self.left = count
        self.buf = bytearray(MIB)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.rawlimit", path, str(count)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def fetch(self) -> float:
        if self.left <= 0:
            raise RuntimeError("raw sender has no transfers left")
        self.left -= 1
        t0 = time.perf_counter()
        with socket.create_connection((HOST, self.port), timeout=self.timeout) as s:
            size = drain(s, self.buf)
        return size / (time.perf_counter() - t0)

    def __enter__(self) -> RawSender:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.proc.wait(timeout=self.timeout if self.left == 0 else 0.1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def measure(path: str, runs: int = 1) -> float:
    """Best bytes/s of `runs` plain sendfile -> recv_into transfers over loopback."""
    with RawSender(path, runs) as sender:
        return max(sender.fetch() for _ in range(runs))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
