"""Other servers, misconfigured one fault each, for the doctor and the log reader: pyftpdlib in
a thread, vsftpd as a child process (tests/client/peers.py), and a relay that plays a NAT."""

from __future__ import annotations

import contextlib
import ftplib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import passive_block
from tests.client.peers import (
    VSFTPD_PASSWORD,
    VSFTPD_USER,
    Peer,
    PyftpdServer,
    Vsftpd,
    _unix_user,
    vsftpd_unavailable,
    wait_listening,
)
from tests.support.ports import free_port

# Unpacked from their Debian packages by `make test` (they conflict with vsftpd as packages).
UNPACKED = Path(__file__).resolve().parents[2] / ".venv/debs/root/usr/sbin"
PROFTPD_CONF = """\
ServerType standalone
ServerName "pasv-test"
Port {port}
DefaultAddress 127.0.0.1
SocketBindTight on
User nobody
Group nogroup
ScoreboardFile {workdir}/scoreboard
PidFile {workdir}/proftpd.pid
DelayTable none
WtmpLog off
UseReverseDNS off
RequireValidShell off
TransferLog none
PassivePorts {low} {high}
{extra}
"""


@contextlib.contextmanager
def pyftpd(
    root: Path, server: dict[str, int] | None = None, **handler: object
) -> Iterator[PyftpdServer]:
    """pyftpdlib with handler attributes (permit_foreign_addresses …) and server limits
    (max_cons, max_cons_per_ip)."""
    root.mkdir(parents=True, exist_ok=True)
    running = PyftpdServer(root, **handler)
    for name, value in (server or {}).items():
        setattr(running.server, name, value)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def vsftpd(extra: str) -> Iterator[Vsftpd]:
    """vsftpd with ``extra`` config lines; skipped with the reason where it cannot run."""
    reason = vsftpd_unavailable()
    if reason:
        pytest.skip(reason)
    running = Vsftpd(passive_block(), extra=extra)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def session_of(peer: Peer) -> Iterator[ftplib.FTP]:
    """A logged-in session that holds one of the server's slots while the test runs."""
    ftp = ftplib.FTP()
    ftp.connect(peer.host, peer.port, timeout=10)
    ftp.login(peer.user, peer.password)
    try:
        yield ftp
    finally:
        with contextlib.suppress(OSError, EOFError, ftplib.Error):
            ftp.quit()
        ftp.close()


class NatRelay:
    """A control-connection relay on 127.0.0.1 that reaches the server from 127.0.0.2, as a
    NAT router does: the server sees another address than the one the client announces in
    PORT. Data connections do not pass through it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = [self.listener]
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, source_address=("127.0.0.2", 0))
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                pump.start()
                self._threads.append(pump)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(5)


def _unpacked(name: str) -> Path:
    binary = UNPACKED / name
    if not binary.exists():
        pytest.skip(f"{name} is not unpacked (make test does it into .venv/debs)")
    if os.geteuid() != 0:
        pytest.skip(f"{name} tests need root (system users)")
    _unix_user()  # the system user the tests log in as
    return binary


@contextlib.contextmanager
def _child(command: list[str], port: int, name: str) -> Iterator[Peer]:
    """A server run in the foreground by the test, stopped with its process group."""
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_listening(proc, port, name)
        home = Path(f"~{VSFTPD_USER}").expanduser()
        yield Peer(name, "127.0.0.1", port, VSFTPD_USER, VSFTPD_PASSWORD, home)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


@contextlib.contextmanager
def pure_ftpd(*flags: str) -> Iterator[Peer]:
    """Pure-FTPd on a loopback port, system users (-l unix), no anonymous logins (-E), with
    ``flags`` (e.g. "-C", "1": one connection per IP)."""
    binary = _unpacked("pure-ftpd")
    port = free_port()
    low, high = passive_block()
    command = [str(binary), "-S", f"127.0.0.1,{port}", "-l", "unix", "-E",
               "-p", f"{low}:{high}", *flags]  # fmt: skip
    with _child(command, port, "Pure-FTPd") as peer:
        yield peer


@contextlib.contextmanager
def proftpd(extra: str, workdir: Path) -> Iterator[Peer]:
    """ProFTPD on a loopback port with system users and ``extra`` directives
    (e.g. "MaxClientsPerHost 1")."""
    binary = _unpacked("proftpd")
    port = free_port()
    low, high = passive_block()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "proftpd.conf"
    conf.write_text(PROFTPD_CONF.format(port=port, workdir=workdir, low=low, high=high,
                                        extra=extra))  # fmt: skip
    with _child([str(binary), "-n", "-c", str(conf)], port, "ProFTPD") as peer:
        yield peer
