"""Lines read in a session's encodings (server.legacy_encoding): UTF-8, the legacy one, latin-1."""

from __future__ import annotations

from pasv.protocol.parser import Command, ForeignCommand, LineBuffer, whole_line

GBK_NAME = "中文".encode("gbk")  # b"\xd6\xd0\xce\xc4": not UTF-8
UTF8_AND_GBK = ("utf-8", "gbk")


def test_a_line_that_is_not_utf8_is_read_in_the_legacy_encoding_and_says_so() -> None:
    assert whole_line(b"MKD " + GBK_NAME + b"\r\n", 4096, UTF8_AND_GBK) == [
        ForeignCommand("MKD", "中文", "gbk")
    ]
    assert whole_line("MKD 中文\r\n".encode(), 4096, UTF8_AND_GBK) == [Command("MKD", "中文")]


def test_a_legacy_session_reads_its_own_encoding_first_then_utf8_then_latin1() -> None:
    legacy_first = ("gbk", "utf-8")
    assert whole_line("CWD 你\r\n".encode("gbk"), 4096, legacy_first) == [Command("CWD", "你")]
    # UTF-8 中 is e4 b8 ad: e4 b8 is a GBK pair, the lone ad is not GBK
    assert whole_line("CWD 中\r\n".encode(), 4096, legacy_first) == [
        ForeignCommand("CWD", "中", "utf-8")
    ]
    assert whole_line(b"CWD \x80\r\n", 4096, legacy_first) == [Command("CWD", "\x80")]


def test_lines_after_a_legacy_one_in_the_same_read_are_read_in_it_first() -> None:
    # c3 a9 is both UTF-8 (é) and GBK (茅): after a GBK line it is GBK's
    lines = LineBuffer()
    items = lines.feed(b"CWD " + GBK_NAME + b"\r\nMKD \xc3\xa9\r\n", UTF8_AND_GBK)
    assert items == [ForeignCommand("CWD", "中文", "gbk"), Command("MKD", "茅")]
