"""mirror when one file's transfer stalls, either way: the stall ends after --timeout, the file
is tried again, then reported; the other files are copied and the exit code says one failed."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import ClientOptions, RetryPolicy, Target
from pasv.client.mirror import local_tree, plan, remote_tree
from pasv.client.mirror_run import run_plan
from pasv.client.session import open_client
from pasv.protocol.listing import format_timeval
from tests.client.scripted import MLST, FileServer, Hook, Session
from tests.client.test_end_stalls import Swallow226
from tests.support.live import PASSWORD, USER, start_server

pytestmark = pytest.mark.timeout(60)  # a stall that is not bounded hangs; this bounds it

FILES = {"/d/a.txt": b"first", "/d/b.txt": b"stalls every time", "/d/c.txt": b"third"}


def _only_b(hook: Hook) -> Hook:
    def answer(session: Session, arg: str) -> bool:
        return arg.endswith("b.txt") and hook(session, arg)

    return answer


def _retr_unconfirmed(session: Session, arg: str) -> bool:
    """All of the file, the data connection closed, and no 226."""
    session.send("150 Here it comes.")
    with session.data() as sock:
        sock.sendall(session.server.files[session.path(arg)])
    return True


def _stor_unconfirmed(session: Session, arg: str) -> bool:
    """Every byte read and kept, the file's time now (as a server's disk sets it), no 226."""
    session.send("150 Send it.")
    with session.data() as sock:
        session.server.files[session.path(arg)] = b"".join(iter(lambda: sock.recv(65536), b""))
    session.server.mtimes[session.path(arg)] = format_timeval(time.time())
    return True


def _mfmt(session: Session, arg: str) -> bool:
    stamp, _, name = arg.partition(" ")
    session.server.mtimes[session.path(name)] = stamp
    session.send(f"213 Modify={stamp}; {name}")
    return True


def _mirror(*args: str) -> tuple[int, str]:
    options = ["--timeout", "1", "--retries", "1", "--retry-delay", "0"]
    result = CliRunner().invoke(app, ["mirror", *options, *args])
    return result.exit_code, result.stderr


def test_a_download_that_stalls_is_retried_reported_and_the_others_copied(
    tmp_path: Path,
) -> None:
    hooks = {"RETR": _only_b(_retr_unconfirmed)}
    with FileServer(FILES, dirs=("/d",), feat=("SIZE", MLST), hooks=hooks) as server:
        code, err = _mirror(f"ftp://u:p@127.0.0.1:{server.port}/d", str(tmp_path))
        tries = server.count("RETR") - 2
    assert code == 4, err  # the connection kept failing for a file: not a refusal (1)
    assert (tmp_path / "a.txt").read_bytes() == b"first"
    assert (tmp_path / "c.txt").read_bytes() == b"third"
    assert tries == 2  # b.txt once, and once more after the stall
    assert "Not copied: b.txt (RETR: the transfer stalled while closing" in err
    assert "1 of 3 files could not be copied (the first: b.txt: RETR: the transfer stalled" in err
    with FileServer(FILES, dirs=("/d",), feat=("SIZE", MLST)) as server:  # it answers now
        code, err = _mirror(f"ftp://u:p@127.0.0.1:{server.port}/d", str(tmp_path))
        fetched = [line for line in server.commands if line.startswith("RETR")]
    assert code == 0, err
    assert fetched == ["RETR /d/b.txt"]  # all of it came before, unconfirmed: copied again
    assert (tmp_path / "b.txt").read_bytes() == FILES["/d/b.txt"]


def test_an_upload_that_stalls_is_retried_reported_and_the_others_copied(
    tmp_path: Path,
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name, data in FILES.items():
        (source / name.rsplit("/", 1)[1]).write_bytes(data)
    hooks = {"STOR": _only_b(_stor_unconfirmed), "MFMT": _mfmt}
    url = "ftp://u:p@127.0.0.1:{}/d"
    with FileServer({}, dirs=("/d",), feat=("SIZE", "MFMT", MLST), hooks=hooks) as server:
        code, err = _mirror(str(source), url.format(server.port))
        stored, tries = dict(server.files), server.count("STOR") - 2
        del server.hooks["STOR"]  # it answers now
        again, err_again = _mirror(str(source), url.format(server.port))
        sent = [line for line in server.commands if line.startswith("STOR")][4:]
    assert code == 4, err
    assert stored["/d/a.txt"] == b"first" and stored["/d/c.txt"] == b"third"
    assert stored["/d/b.txt"] == FILES["/d/b.txt"]  # every byte, but never confirmed
    assert tries == 2
    assert "Not copied: b.txt (STOR: the transfer stalled while closing: all 17 bytes" in err
    assert "1 of 3 files could not be copied (the first: b.txt: STOR" in err
    assert again == 0, err_again
    assert sent == ["STOR /d/b.txt"]  # marked stale (MFMT 1970): sent again, not taken as newer


@pytest.fixture
def held() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


async def test_a_download_held_after_150_in_one_of_two_sessions_leaves_the_rest_copied(
    tmp_path: Path, held: list[socket.socket]
) -> None:
    def hold(session: Session, arg: str) -> bool:
        session.send("150 Here it comes.")
        held.append(session.data())  # and then nothing, until the test ends
        return True

    files = {**FILES, "/d/e.txt": b"fifth", "/d/f.txt": b"sixth"}
    hooks = {"RETR": _only_b(hold)}
    with FileServer(files, dirs=("/d",), feat=("SIZE", MLST), hooks=hooks) as server:
        target = Target("127.0.0.1", server.port, "u", "p")
        options = ClientOptions(timeout=1)
        first = await open_client(target, options)
        try:
            remote = await remote_tree(first, "/d")
            assert remote is not None
            the_plan = plan("download", remote, {})
            copied = await run_plan(
                the_plan, "/d", tmp_path, first, lambda: open_client(target, options), jobs=2,
                policy=RetryPolicy(attempts=2, min_delay=0),
            )  # fmt: skip
        finally:
            await first.close()
    assert copied == 4
    assert [rel for rel, _ in the_plan.failed] == the_plan.stalled == ["b.txt"]
    assert "stalled while receiving" in the_plan.failed[0][1]
    for name in ("a.txt", "c.txt", "e.txt", "f.txt"):
        assert (tmp_path / name).read_bytes() == files[f"/d/{name}"]
    assert len(held) == 2  # tried twice


async def test_the_real_server_s_copy_of_an_unconfirmed_upload_is_marked_stale(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "data")
    proxy = Swallow226((server.host, server.port), b"/b.txt", times=2)  # both tries of b.txt
    await proxy.start()
    source = tmp_path / "src"
    source.mkdir()
    for name, data in FILES.items():
        (source / name.rsplit("/", 1)[1]).write_bytes(data)
    target = Target("127.0.0.1", proxy.port, USER, PASSWORD)
    options = ClientOptions(timeout=1)
    the_plan = plan("upload", local_tree(source), {})
    the_plan.create_root = True
    try:
        first = await open_client(target, options)
        try:
            copied = await run_plan(
                the_plan, "/t", source, first, lambda: open_client(target, options),
                policy=RetryPolicy(attempts=2, min_delay=0),
            )  # fmt: skip
        finally:
            await first.close()
    finally:
        await proxy.close()
        server.stop()
    assert copied == 2 and the_plan.stalled == ["b.txt"]
    stored = server.files / "t"
    assert {p.name: p.read_bytes() for p in stored.iterdir()} == {
        name.rsplit("/", 1)[1]: data for name, data in FILES.items()
    }
    assert (stored / "b.txt").stat().st_mtime == 0  # the next mirror copies it again
    assert (stored / "a.txt").stat().st_mtime == (source / "a.txt").stat().st_mtime // 1
