"""Replies keep the commands' order around a transfer: NOOP is answered after the transfer's final
reply (its 200 could pass for that reply), STAT during the transfer gets its 213 at once (RFC 959),
and a STAT that comes as the transfer ends is answered after the final reply, never before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pasv.protocol.parser import Command
from pasv.server import transfers
from pasv.server.control import ControlProtocol
from pasv.storage.localwrite import LocalWriteHandle
from tests.server.helpers import (
    BIG,
    big_download_started,
    data_socket,
    read_until_closed,
    wait_for,
)
from tests.support.live import LiveServer


def _control(live: LiveServer) -> ControlProtocol:
    (control,) = live.server.sessions
    return control


def _got(control: ControlProtocol, name: str) -> bool:
    """Whether the server has read a command ``name`` (waiting in a queue, or answered)."""
    waiting = [*control.queue, *control.urgent]
    last = control.session.last_command
    return any(isinstance(c, Command) and c.name == name for c in [*waiting, last])


def test_noop_during_a_download_is_answered_after_its_226(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)  # the client does not read on: the RETR cannot end
    try:
        ftp.sock.sendall(b"NOOP\r\n")
        wait_for(lambda: _got(_control(live), "NOOP"))  # read by the server, not yet ended
        assert len(read_until_closed(conn, timeout=30)) > 0
    finally:
        conn.close()
    assert ftp.getmultiline().startswith("226 ")  # the RETR's reply first ...
    assert ftp.getmultiline().startswith("200 ")  # ... then the NOOP's


def test_noop_after_an_upload_closed_is_answered_after_its_226(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client closed the data connection and sent NOOP at once, while the server still
    finished the file: the 200 must not come first (the client would take it for the STOR's
    reply, and a 451 or 452 after it for the NOOP's)."""
    committing = asyncio.Event()
    release = asyncio.Event()
    commit = LocalWriteHandle.commit

    async def held_commit(self: LocalWriteHandle) -> None:
        committing.set()
        await release.wait()
        await commit(self)

    monkeypatch.setattr(LocalWriteHandle, "commit", held_commit)
    ftp = live.login()
    conn = data_socket(ftp)
    with conn:
        assert ftp.sendcmd("STOR up.bin").startswith("150")
        conn.sendall(b"u" * 1000)
    wait_for(committing.is_set)  # the server read the end of the data: the file is finishing
    ftp.sock.sendall(b"NOOP\r\n")
    control = _control(live)
    wait_for(lambda: _got(control, "NOOP"))
    live.loop.call_soon_threadsafe(release.set)
    assert ftp.getmultiline().startswith("226 ")
    assert ftp.getmultiline().startswith("200 ")
    assert (live.files / "up.bin").read_bytes() == b"u" * 1000


def test_stat_during_a_transfer_is_answered_at_once_and_noop_after_it(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)
    try:
        ftp.sock.sendall(b"STAT\r\nNOOP\r\nSTAT\r\n")
        assert ftp.getmultiline().startswith("213 Status: RETR")
        assert len(read_until_closed(conn, timeout=30)) > 0
    finally:
        conn.close()
    assert ftp.getmultiline().startswith("226 ")
    assert ftp.getmultiline().startswith("200 ")
    assert ftp.getmultiline().startswith("211-")  # no transfer any more: the session's status


def test_stat_that_comes_as_the_transfer_ends_is_answered_after_its_226(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STAT read in the same turn of the loop as the end of the transfer: it was taken as
    overtaking, but by its turn the transfer is over and its command is finishing (closing the
    file). Its reply goes after the 226."""
    close = transfers.close
    stat_read = False

    def close_after_stat(sock: Any) -> None:  # the client's STAT arrives just as the data ends
        nonlocal stat_read
        control = _control(live)
        if not stat_read:
            stat_read = True
            control.data_received(b"STAT\r\n")
        close(sock)

    write_close = LocalWriteHandle.close

    async def close_once_stat_had_its_turn(
        self: LocalWriteHandle, *, discard: bool = False
    ) -> None:
        task = _control(live).urgent_task
        if task is not None:
            await asyncio.wait([task])
        await write_close(self, discard=discard)

    monkeypatch.setattr(transfers, "close", close_after_stat)
    monkeypatch.setattr(LocalWriteHandle, "close", close_once_stat_had_its_turn)
    ftp = live.login()
    conn = data_socket(ftp)
    with conn:
        assert ftp.sendcmd("STOR up.bin").startswith("150")
        conn.sendall(b"u" * 1000)
    assert ftp.getmultiline().startswith("226 ")
    assert ftp.getmultiline().startswith("211-")
    assert stat_read


def test_abor_behind_a_waiting_noop_stops_the_transfer_and_answers_in_order(
    live: LiveServer,
) -> None:
    """A client's NOOP keep-alive waits for the transfer's end; an ABOR after it must still stop
    the transfer at once (not wait behind the NOOP), and the replies keep the commands' order."""
    ftp, conn = big_download_started(live)
    try:
        ftp.sock.sendall(b"NOOP\r\n")
        wait_for(lambda: _got(_control(live), "NOOP"))
        ftp.sock.sendall(b"ABOR\r\n")
        got = len(read_until_closed(conn, timeout=30))
    finally:
        conn.close()
    assert got < BIG - 65536  # stopped, not sent whole (the first 64 KiB were read before)
    assert ftp.getmultiline().startswith("426 ")  # the RETR's final reply
    assert ftp.getmultiline().startswith("200 ")  # the NOOP's
    assert ftp.getmultiline().startswith("226 ")  # the ABOR's
    assert ftp.sendcmd("PWD").startswith("257")
