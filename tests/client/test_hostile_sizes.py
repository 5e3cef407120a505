"""A hostile server cannot fill the client's memory: endless replies and listings are cut."""

from __future__ import annotations

import pytest

from pasv.client import ClientOptions, ConnectionFailed, FtpClient, FtpClientError
from pasv.protocol.errors import ProtocolViolation
from pasv.protocol.replies import MAX_REPLY_LINES, ReplyParser
from tests.client.scripted import FileServer, Session


def test_a_multi_line_reply_is_cut_after_its_line_and_byte_limits() -> None:
    parser = ReplyParser()
    with pytest.raises(ProtocolViolation, match="multi-line reply longer than"):
        parser.feed(b"220-welcome\r\n" + b" more\r\n" * MAX_REPLY_LINES)
    parser = ReplyParser()
    with pytest.raises(ProtocolViolation, match="multi-line reply longer than"):
        parser.feed(b"220-welcome\r\n" + (b"x" * 60_000 + b"\r\n") * 20)
    parser = ReplyParser()  # a long banner that ends is read whole
    replies = parser.feed(b"220-welcome\r\n" + b" more\r\n" * 5000 + b"220 ready\r\n")
    assert len(replies) == 1 and len(replies[0].lines) == 5002


def _endless_banner(session: Session) -> bool:
    line = b"220-" + b"x" * 100 + b"\r\n"
    try:
        for _ in range(1000):  # 10 MB at most: far past the limit
            session.send(line * 100)
    except OSError:
        pass  # the client gave up, as it should
    return False


async def test_an_endless_greeting_fails_the_connection() -> None:
    with FileServer(greet=_endless_banner) as server:
        async with FtpClient(ClientOptions(timeout=10)) as client:
            with pytest.raises(ConnectionFailed, match="multi-line reply longer than"):
                await client.connect("127.0.0.1", server.port)


def _endless_list(session: Session, arg: str) -> bool:
    session.send("150 Here it comes.")
    line = b"-rw-r--r--   1 ftp      ftp          1234 Jan 01  2024 " + b"n" * 200 + b"\r\n"
    with session.data() as sock:
        try:
            for _ in range(1000):  # 50 MB at most
                sock.sendall(line * 200)
        except OSError:
            pass
    session.send("226 Done.")
    return True


async def test_an_endless_listing_is_cut_at_the_limit() -> None:
    with FileServer(feat=("SIZE",), hooks={"LIST": _endless_list}) as server:
        async with FtpClient(ClientOptions(timeout=10, max_listing=2**20)) as client:
            await client.connect("127.0.0.1", server.port)
            await client.login("u", "p")
            with pytest.raises(FtpClientError, match="longer than 1 MiB"):
                await client.listdir("/")
