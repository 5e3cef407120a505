"""The session board is written in full only while the admin API watches it: an unwatched
worker lists only its transfers, and nothing again while it has none."""

from __future__ import annotations

import socket

from pasv.server.board import SessionBoard
from tests.support.live import LiveServer


def test_watching_lasts_a_while_after_the_last_read() -> None:
    board = SessionBoard(2)
    assert not board.watched(100.0)  # a new board: nobody has read it
    assert board.watch(100.0) is False  # the first read finds it unwatched (lists may be old)
    assert board.watched(100.0 + board.WATCHED_FOR - 1)
    assert board.watch(110.0) is True
    assert not board.watched(110.0 + board.WATCHED_FOR)


def test_a_list_of_transfers_only_is_told_from_a_whole_one() -> None:
    board = SessionBoard(2)
    board.publish(1, [{"id": "local:1:1", "transfer": None}])
    assert board.sequence(1) == (2, True)
    board.publish(1, [], everything=False)
    assert board.sequence(1) == (4, False)
    assert board.read(1) == []


def _publish(live: LiveServer, everything: bool) -> None:
    async def publish() -> None:
        live.server.publish(everything)

    live.call(publish())


def test_an_unwatched_worker_lists_only_its_transfers(live: LiveServer) -> None:
    board = live.server.board = SessionBoard(2)  # this process as worker 0 of two
    idle = live.login()
    _publish(live, everything=True)
    assert [s["user"] for s in board.read(0)] == ["alice"]
    _publish(live, everything=False)  # nobody watching: the idle session is not described
    assert board.read(0) == []
    written = board.sequence(0)
    _publish(live, everything=False)
    assert board.sequence(0) == written  # still nothing to show: nothing written again
    (live.files / "big.bin").write_bytes(b"\0" * (64 << 20))
    busy = live.login()
    busy.voidcmd("TYPE I")
    data = busy.transfercmd("RETR big.bin")  # 150: running, its data left unread
    data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        _publish(live, everything=False)
        (shown,) = board.read(0)
        assert shown["transfer"]["command"] == "RETR"
        assert shown["transfer"]["path"].endswith("big.bin")
        assert board.sequence(0)[1] is False
    finally:
        data.close()
        busy.close()
        idle.close()
