"""The session board across a fork, and the transfer log read back."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

from pasv.admin.history import Search, parse_line, search
from pasv.server.board import SessionBoard
from pasv.server.xferlog import XferLog


def test_a_worker_publishes_and_takes_kicks_the_other_sees_them() -> None:
    board = SessionBoard(2)
    assert board.read(1) == []
    to_child, from_parent = os.pipe()
    to_parent, from_child = os.pipe()
    pid = os.fork()
    if pid == 0:  # worker 1: never returns into pytest
        code = 1
        try:
            board.publish(1, [{"id": "local:1:5", "user": "bob"}])
            os.write(from_child, b"1")
            os.read(to_child, 1)  # until worker 0 asked for the kick
            code = 0 if board.take_kicks(1) == [5] and board.take_kicks(1) == [] else 2
        finally:
            os._exit(code)
    assert os.read(to_parent, 1) == b"1"
    assert board.read(1) == [{"id": "local:1:5", "user": "bob"}]
    assert board.read(0) == []
    assert board.request_kick(1, 5)
    os.write(from_parent, b"k")
    assert os.waitpid(pid, 0)[1] == 0
    board.clear(1)
    assert board.read(1) == []
    for fd in (to_child, from_parent, to_parent, from_child):
        os.close(fd)


def test_a_board_too_small_keeps_what_fits() -> None:
    board = SessionBoard(1)
    many = [{"id": f"local:0:{n}", "user": "u" * 300} for n in range(5000)]
    board.publish(0, many)
    shown = board.read(0)
    assert 0 < len(shown) < len(many) and shown == many[: len(shown)]


def test_the_transfer_log_is_parsed_and_searched(tmp_path: Path) -> None:
    path = tmp_path / "xferlog"
    log = XferLog(path)
    for name, user, complete in (("/a/one.bin", "bob", True), ("/b/two.bin", "eve", False)):
        log.record(
            seconds=1.2,
            host="192.0.2.1",
            size=100,
            path=name,
            binary=True,
            direction="i",
            anonymous=False,
            user=user,
            complete=complete,
        )
    log.close()
    with path.open("a") as file:
        file.write("a line that is not a transfer\n")
    found = search(path, Search())
    assert [r.path for r in found] == ["/b/two.bin", "/a/one.bin"]  # newest first
    assert found[0].result == "incomplete" and found[1].direction == "upload"
    assert abs(found[1].time - time.time()) < 120
    assert [r.user for r in search(path, Search(user="bob"))] == ["bob"]
    assert [r.path for r in search(path, Search(path="two"))] == ["/b/two.bin"]
    assert search(path, Search(result="complete"))[0].path == "/a/one.bin"
    assert search(path, Search(since=time.time() + 3600)) == []
    assert search(tmp_path / "missing", Search()) == []
    assert parse_line("Tue Nov 24 07:53:12 2026 x 127.0.0.1 2052 /f a _ i r a ftp 0 * c") is None


def _line(number: int) -> str:
    return f"Mon Dec 07 23:13:53 2026 1 192.0.2.1 5 /d/file{number:07d}.txt b _ o r bob ftp 0 * c\n"


def test_a_large_log_is_read_from_its_end_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "xferlog"
    count = 300_000  # 26 MB: more than the 16 MiB searched, lines across every chunk border
    with path.open("w") as file:
        file.writelines(_line(n) for n in range(count))
    tracemalloc.start()
    try:
        newest = search(path, Search(limit=100))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.path for r in newest] == [
        f"/d/file{n:07d}.txt" for n in range(count - 1, count - 101, -1)
    ]
    assert peak < 4 << 20  # the last chunk or two, not the 16 MiB window (it was 60 MB and more)
    # a search that matches nothing near the end goes through the whole window, line by line
    # (the line cut by the window's start left out), and only the window
    found = search(path, Search(path="file0", limit=1000))
    window_lines = (16 << 20) // len(_line(0))
    assert len(found) == 1000 and found[-1].path == f"/d/file{count - 1000:07d}.txt"
    oldest = search(path, Search(limit=10**6))
    assert window_lines - 1 <= len(oldest) <= window_lines
    assert [r.path for r in oldest[-1:]] == [f"/d/file{count - len(oldest):07d}.txt"]


def test_a_small_log_keeps_its_first_line_and_crlf_ends(tmp_path: Path) -> None:
    path = tmp_path / "xferlog"
    path.write_bytes(
        _line(1).encode() + _line(2).replace("\n", "\r\n").encode() + _line(3)[:-1].encode()
    )
    assert [r.path for r in search(path, Search())] == [
        "/d/file0000003.txt",
        "/d/file0000002.txt",
        "/d/file0000001.txt",
    ]
