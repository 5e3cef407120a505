"""Graceful drain of `pasv serve`: SIGTERM refuses new sessions with 421 and the reason, lets
running transfers finish within [drain] timeout, cuts them after it (426, never 226), exits."""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.nodes import Node, nodes, start_node
from tests.cli.support import Pasv
from typer.testing import CliRunner

from pasv.cli.main import app

__all__ = ["nodes"]

USER, PASSWORD = "alice", "pw-alice"
HOST = "127.0.0.1"
SIZE = 32 * 1024 * 1024  # more than the socket buffers hold: it cannot finish unread
PIECE = 1024 * 1024
FAREWELL = "421 Service not available, closing control connection. (node draining for shutdown)"


def _node(
    tmp: Path,
    procs: list[subprocess.Popen[str]],
    timeout: float,
    workers: int = 1,
    args: tuple[str, ...] = (),
    **extra: str,
) -> tuple[Node, Path]:
    admin = Pasv(tmp / "data")
    admin.ok("user", "add", USER, "--password", PASSWORD)
    config = tmp / "pasv.toml"
    text = f"[drain]\ntimeout = {timeout}\n"
    for section, line in extra.items():
        text += f"[{section}]\n{line}\n"
    config.write_text(text, encoding="utf-8")
    files = admin.data / "files"
    files.mkdir(parents=True, exist_ok=True)
    node = start_node(admin.data, procs, "--config", str(config), *args, workers=workers)
    return node, files


def _big(files: Path) -> str:
    data = os.urandom(SIZE)
    (files / "big.bin").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _session(node: Node) -> Iterator[ftplib.FTP]:
    ftp = ftplib.FTP(timeout=20)
    try:
        ftp.connect(HOST, node.port)
        ftp.login(USER, PASSWORD)
        ftp.voidcmd("TYPE I")
        yield ftp
    finally:
        ftp.close()


def _refused_at_greeting(node: Node) -> str:
    ftp = ftplib.FTP()
    try:
        ftp.connect(HOST, node.port, timeout=10)
    except ftplib.error_temp as exc:
        return str(exc)
    finally:
        ftp.close()
    raise AssertionError("a new session was let in while draining")


def _drain(node: Node, workers: int = 1) -> None:
    """SIGTERM, and wait until every worker says it is draining."""
    mark = node.mark()
    node.signal(signal.SIGTERM)
    node.wait_for(r"draining \(node draining for shutdown\)", count=workers, since=mark)


def _read_all(conn: socket.socket) -> bytes:
    parts = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := conn.recv(PIECE):
            parts.append(chunk)
    return b"".join(parts)


# As root, one worker is a supervisor and a worker that serves as `nobody`; --allow-root (with
# a warning) serves in one process, as a non-root start does.
ONE_PROCESS = ("--allow-root",) if os.geteuid() == 0 else ()


@pytest.mark.parametrize(
    ("workers", "extra"), [(1, ()), (2, ()), (1, ONE_PROCESS)], ids=["1", "2", "one-process"]
)
def test_sigterm_lets_a_running_download_finish(
    tmp_path: Path, nodes: list[subprocess.Popen[str]], workers: int, extra: tuple[str, ...]
) -> None:
    node, files = _node(tmp_path, nodes, timeout=60, workers=workers, args=extra)
    digest = _big(files)
    with _session(node) as idle, _session(node) as ftp:
        conn = ftp.transfercmd("RETR big.bin")
        with conn:
            hasher = hashlib.sha256(conn.recv(PIECE))
            _drain(node, workers)
            assert _refused_at_greeting(node) == FAREWELL
            with pytest.raises(ftplib.error_temp) as told:
                idle.getresp()  # an idle session is told at once
            assert str(told.value) == FAREWELL
            while chunk := conn.recv(PIECE):
                hasher.update(chunk)
        assert ftp.voidresp().startswith("226 ")
        assert hasher.hexdigest() == digest
        with pytest.raises(ftplib.error_temp) as after:
            ftp.getresp()  # then this session ends too
        assert str(after.value) == FAREWELL
    assert node.proc.wait(30) == 0  # well within the 60 s drain time: nothing was left running
    assert not any("Traceback" in line for line in node.lines)


def test_every_worker_answers_421_until_the_last_has_drained(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    """Two workers, one busy with a download: the idle one drains at once, but it must keep
    answering 421 on its share of the port (no reset, no connection left unanswered) until
    the download on the other has ended."""
    node, files = _node(tmp_path, nodes, timeout=60, workers=2)
    digest = _big(files)
    with _session(node) as ftp:
        conn = ftp.transfercmd("RETR big.bin")
        with conn:
            hasher = hashlib.sha256(conn.recv(PIECE))
            _drain(node, workers=2)
            # new connections come from new source ports, so the kernel spreads them over
            # both workers' sockets
            told = [_refused_at_greeting(node) for _ in range(24)]
            assert told == [FAREWELL] * 24
            children = Path(f"/proc/{node.proc.pid}/task/{node.proc.pid}/children").read_text()
            assert len(children.split()) == 2  # the drained worker waits for the busy one
            while chunk := conn.recv(PIECE):
                hasher.update(chunk)
        assert ftp.voidresp().startswith("226 ")
        assert hasher.hexdigest() == digest
    assert node.proc.wait(30) == 0
    assert not any("Traceback" in line for line in node.lines)


def test_sigterm_lets_a_running_upload_finish(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    node, files = _node(tmp_path, nodes, timeout=60)
    data = os.urandom(8 * PIECE)
    with _session(node) as ftp:
        conn = ftp.transfercmd("STOR up.bin")
        with conn:
            conn.sendall(data[:PIECE])
            _drain(node)
            assert _refused_at_greeting(node) == FAREWELL
            ftp.putcmd("MKD queued")  # sent behind the running upload: it must never run
            conn.sendall(data[PIECE:])
        assert ftp.voidresp().startswith("226 ")
        with pytest.raises(ftplib.error_temp, match="draining for shutdown"):
            ftp.getresp()
    assert node.proc.wait(30) == 0
    assert hashlib.sha256((files / "up.bin").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert not (files / "queued").exists()


def test_the_drain_time_cuts_a_download_that_takes_too_long(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    node, files = _node(tmp_path, nodes, timeout=1)
    _big(files)
    with _session(node) as ftp:
        conn = ftp.transfercmd("RETR big.bin")
        with conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
            first = conn.recv(PIECE)
            mark = node.mark()
            _drain(node)  # the client reads no more: the download cannot finish in 1 s
            assert _refused_at_greeting(node) == FAREWELL
            with pytest.raises(ftplib.error_temp) as cut:
                ftp.getresp()
            assert str(cut.value).startswith(
                "426 Transfer aborted (the node is shutting down and its drain time of 1s is "
                "over) after "
            ), cut.value
            received = len(first) + len(_read_all(conn))
        assert received < SIZE
        with pytest.raises(ftplib.error_temp) as after:
            ftp.getresp()
        assert str(after.value) == FAREWELL
    node.wait_for(r"drain time over: 1 transfer\(s\) aborted", since=mark)
    assert node.proc.wait(30) == 0


def test_the_drain_time_cuts_an_upload_and_nothing_is_published(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    node, files = _node(tmp_path, nodes, timeout=1, uploads='mode = "atomic"')
    with _session(node) as ftp:
        conn = ftp.transfercmd("STOR part.bin")
        with conn:
            conn.sendall(os.urandom(PIECE))  # then nothing more, the connection left open
            _drain(node)
            with pytest.raises(ftplib.error_temp) as cut:
                ftp.getresp()
            assert str(cut.value).startswith("426 Transfer aborted (the node is shutting down")
        with pytest.raises(ftplib.error_temp, match="draining for shutdown"):
            ftp.getresp()
    assert node.proc.wait(30) == 0
    assert not (files / "part.bin").exists()  # an atomic upload cut short is never published


def test_sigint_twice_stops_at_once(tmp_path: Path, nodes: list[subprocess.Popen[str]]) -> None:
    """Ctrl-C drains like SIGTERM; a second Ctrl-C does not wait for the drain time."""
    node, files = _node(tmp_path, nodes, timeout=600)
    _big(files)
    with _session(node) as ftp:
        conn = ftp.transfercmd("RETR big.bin")
        with conn:
            conn.recv(PIECE)
            mark = node.mark()
            node.signal(signal.SIGINT)
            node.wait_for(r"draining \(node draining for shutdown\)", since=mark)
            node.signal(signal.SIGINT)
            node.wait_for(r"drain time over: 1 transfer\(s\) aborted", since=mark)
            with pytest.raises(ftplib.error_temp, match=r"^426 Transfer aborted"):
                ftp.getresp()
    assert node.proc.wait(30) == 0


def _health(node: Node, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["health", HOST, "--port", str(node.port), *extra])
    return result.exit_code, result.stdout.strip()


def test_the_health_check_tells_ready_refusing_and_down(
    tmp_path: Path, nodes: list[subprocess.Popen[str]]
) -> None:
    node, files = _node(tmp_path, nodes, timeout=60)
    _big(files)
    assert _health(node) == (0, "ready: 220 pasv FTP server ready.")
    with _session(node) as ftp:
        conn = ftp.transfercmd("RETR big.bin")
        with conn:
            conn.recv(PIECE)
            _drain(node)
            assert _health(node) == (1, f"refusing: {FAREWELL}")
            _read_all(conn)
        assert ftp.voidresp().startswith("226 ")
    assert node.proc.wait(30) == 0
    code, text = _health(node)
    assert code == 2 and text.startswith(f"down: cannot connect to {HOST} port {node.port}: "), text
