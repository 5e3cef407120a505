"""A real `pasv serve` with its admin API on a kernel-chosen port, and an HTTP client for it."""

from __future__ import annotations

import ftplib
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.cli.support import Pasv, _read_until, _serve, stop_all

T = TypeVar("T")


@dataclass
class AdminServer:
    data: Path
    proc: subprocess.Popen[str]
    ftp_port: int
    base: str
    write_token: str
    read_token: str
    lines: list[str] = field(default_factory=list)

    def client(self, token: str | None = None, source: str | None = None) -> httpx.Client:
        """An HTTP client (from the loopback address ``source``, if given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.base, headers=headers, timeout=10, transport=transport)

    def api(self) -> httpx.Client:
        return self.client(self.write_token)

    def ftp(self, user: str = "bob", password: str = "pw", source: str = "127.0.0.1") -> ftplib.FTP:
        ftp = ftplib.FTP(timeout=10, source_address=(source, 0))
        try:
            ftp.connect("127.0.0.1", self.ftp_port)
            ftp.login(user, password)
        except BaseException:
            ftp.close()
            raise
        return ftp

    def can_log_in(self, user: str = "bob", password: str = "pw") -> bool:
        try:
            self.ftp(user, password).quit()
        except ftplib.error_perm:
            return False
        return True

    def stop(self) -> None:
        stop_all([self.proc])


def token(pasv: Pasv, name: str, scopes: str) -> str:
    out = pasv.ok("admin", "token", "create", name, "--scopes", scopes)
    return out.strip().splitlines()[-1]


def start_admin_server(data: Path, *extra: str, env: dict[str, str] | None = None) -> AdminServer:
    """A store with user bob (password pw) and two tokens, then `pasv serve` with the admin API
    (``env``: PASV_* settings added to the environment)."""
    pasv = Pasv(data)
    pasv.ok("user", "add", "bob", "--password", "pw")
    write, read = token(pasv, "ops", "read,write"), token(pasv, "viewer", "read")
    environ = {**os.environ, **env} if env else None
    proc = _serve(data, 0, "--admin", "--admin-port", "0", "--allow-root", *extra, env=environ)
    try:
        lines = _read_until(proc, r"admin console on https?://")
    except BaseException:  # it did not start: the process must not outlive the test
        stop_all([proc])
        raise
    ftp_port = int(next(re.search(r"port (\d+) \(passive", x) for x in lines if "passive" in x)[1])  # type: ignore[index]
    base = re.search(r"(https?://(?:[\d.]+|\[[\da-f:.]+\]):\d+)/console/", lines[-1])[1]  # type: ignore[index]
    return AdminServer(data, proc, ftp_port, base, write, read, lines)


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something (the board publishes about once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(0.05)


def admin_server_fixture(
    data: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[AdminServer]:
    server = start_admin_server(data, *extra, env=env)
    try:
        yield server
    finally:
        server.stop()


def error_of(response: httpx.Response) -> Any:
    return response.json()["error"]
