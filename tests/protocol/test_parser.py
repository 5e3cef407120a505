"""Tests for the control-connection line buffer and command parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.errors import CommandUnrecognized, FtpError, LineTooLong
from pasv.protocol.parser import Command, LineBuffer, parse_command

IAC = b"\xff"


def feed_all(data: bytes, max_line: int = 4096) -> list[Command | FtpError]:
    return LineBuffer(max_line).feed(data)


def summary(items: list[Command | FtpError]) -> list[object]:
    """Comparable form: commands as-is, errors as (class, text)."""
    return [x if isinstance(x, Command) else (type(x), x.text) for x in items]


def test_simple_commands_crlf_and_bare_lf() -> None:
    assert feed_all(b"USER bob\r\nPASS secret\nQUIT\r\n") == [
        Command("USER", "bob"),
        Command("PASS", "secret"),
        Command("QUIT", ""),
    ]


def test_verb_is_upper_cased() -> None:
    assert feed_all(b"retr File.TXT\r\n") == [Command("RETR", "File.TXT")]


@pytest.mark.parametrize(
    ("line", "arg"),
    [
        (b"STOR  x", " x"),
        (b"STOR a b ", "a b "),
        (b"STOR my file.txt", "my file.txt"),
        (b"NOOP ", ""),
        (b"NOOP", ""),
        (b"SITE\tX", None),
        (b"STOR a\rb", "a\rb"),
        (b"STOR tab\there", "tab\there"),
    ],
)
def test_arg_is_everything_after_first_space(line: bytes, arg: str | None) -> None:
    (item,) = feed_all(line + b"\r\n")
    if arg is None:
        assert isinstance(item, CommandUnrecognized)
    else:
        assert isinstance(item, Command)
        assert item.arg == arg


def test_incomplete_line_is_held_until_its_end() -> None:
    buf = LineBuffer()
    assert buf.feed(b"LI") == []
    assert buf.feed(b"ST /pub\r") == []
    assert buf.pending == len(b"LIST /pub\r")
    assert buf.feed(b"\n") == [Command("LIST", "/pub")]
    assert buf.pending == 0


def test_byte_by_byte_equals_whole() -> None:
    data = b"USER a\r\nPASS \xff\xffb\r\nNO\xff\xf4OP\r\nX\xff\xfb\x01Y\n\r\n"
    buf = LineBuffer()
    pieces: list[Command | FtpError] = []
    for i in range(len(data)):
        pieces += buf.feed(data[i : i + 1])
    assert summary(pieces) == summary(feed_all(data))
    assert [x for x in pieces if isinstance(x, Command)] == [
        Command("USER", "a"),
        Command("PASS", "\xffb"),
        Command("NOOP", ""),
        Command("XY", ""),
    ]


@pytest.mark.parametrize("line", [b"", b"\r", b"\r\r"])
def test_empty_line_is_unrecognized(line: bytes) -> None:
    (item,) = feed_all(line + b"\n")
    assert isinstance(item, CommandUnrecognized)
    assert item.code == 500


@pytest.mark.parametrize(
    "line",
    [b"LIST1", b"ABCDEFGHIJK", b"1234", b"R-TR x", b"\xc3\x84BC", b" LIST", b"NO\x00OP"],
)
def test_bad_verbs_are_unrecognized(line: bytes) -> None:
    (item,) = feed_all(line + b"\r\n")
    assert isinstance(item, CommandUnrecognized)
    assert item.text.startswith("Syntax error, command unrecognized")


def test_ten_letter_verb_is_accepted() -> None:
    assert feed_all(b"ABCDEFGHIJ\r\n") == [Command("ABCDEFGHIJ", "")]


def test_unrecognized_text_shows_truncated_escaped_verb() -> None:
    (item,) = feed_all(b"A\x01" + b"B" * 40 + b" arg\r\n")
    assert isinstance(item, CommandUnrecognized)
    assert item.text == "Syntax error, command unrecognized: A\\x01" + "B" * 18
    assert "\x01" not in item.text


def test_telnet_iac_iac_is_a_literal_ff() -> None:
    (cmd,) = feed_all(b"STOR caf\xff\xff\r\n")
    # 0xFF alone is not UTF-8: the line falls back to latin-1.
    assert cmd == Command("STOR", "caf\xff")


def test_telnet_abort_sequence_is_removed() -> None:
    # IAC IP, IAC DM then ABOR: what clients send to abort a transfer.
    assert feed_all(IAC + b"\xf4" + IAC + b"\xf2ABOR\r\n") == [Command("ABOR", "")]


@pytest.mark.parametrize("verb", [0xFB, 0xFC, 0xFD, 0xFE])
def test_telnet_option_negotiation_removed(verb: int) -> None:
    assert feed_all(b"NO" + IAC + bytes([verb, 0x01]) + b"OP\r\n") == [Command("NOOP", "")]


@pytest.mark.parametrize(
    ("chunks", "arg"),
    [
        ([b"NOOP x\xff", b"\xf4y\r\n"], "xy"),
        ([b"NOOP x\xff\xfb", b"\x01y\r\n"], "xy"),
        ([b"NOOP x\xff", b"\xfb", b"\x01", b"y\r\n"], "xy"),
        ([b"NOOP x\xff", b"\xff", b"y\r\n"], "x\xffy"),
    ],
)
def test_iac_split_across_feeds(chunks: list[bytes], arg: str) -> None:
    buf = LineBuffer()
    out: list[Command | FtpError] = []
    for chunk in chunks:
        out += buf.feed(chunk)
    assert out == [Command("NOOP", arg)]


def test_option_byte_may_be_a_line_feed() -> None:
    # IAC DO <10>: the 10 is an option number, not a line end.
    assert feed_all(b"NO" + IAC + b"\xfd\nOP\r\n") == [Command("NOOP", "")]


def test_lone_iac_before_ordinary_byte_is_dropped() -> None:
    assert feed_all(b"STOR a" + IAC + b"b\r\n") == [Command("STOR", "ab")]
    assert feed_all(b"NOOP" + IAC + b"\nQUIT\r\n") == [Command("NOOP", ""), Command("QUIT", "")]


def test_utf8_and_latin1_fallback_per_line() -> None:
    out = feed_all("RETR café\r\n".encode() + b"RETR caf\xe9\r\n" + "RETR 文件\r\n".encode())
    assert out == [Command("RETR", "café"), Command("RETR", "café"), Command("RETR", "文件")]


def test_nul_is_kept_in_arg() -> None:
    assert feed_all(b"RETR x\x00y\r\n") == [Command("RETR", "x\x00y")]


@pytest.mark.parametrize("end", [b"\r\n", b"\n"])
def test_line_of_exactly_max_line_is_accepted(end: bytes) -> None:
    line = b"STOR " + b"x" * 11
    assert len(line) == 16
    assert feed_all(line + end, max_line=16) == [Command("STOR", "x" * 11)]


@pytest.mark.parametrize("end", [b"\r\n", b"\n"])
def test_line_one_byte_too_long(end: bytes) -> None:
    out = feed_all(b"STOR " + b"x" * 12 + end + b"NOOP\r\n", max_line=16)
    assert len(out) == 2
    assert isinstance(out[0], LineTooLong)
    assert out[1] == Command("NOOP", "")


def test_megabyte_line_without_lf_is_bounded_and_reported_once() -> None:
    buf = LineBuffer(max_line=4096)
    out: list[Command | FtpError] = []
    chunk = b"A" * 65536
    for _ in range(16):
        out += buf.feed(chunk)
        assert buf.pending <= 4097
    assert len(out) == 1
    assert isinstance(out[0], LineTooLong)
    assert out[0].code == 500
    assert buf.feed(b"still the long line\r\nNOOP\r\n") == [Command("NOOP", "")]


def test_one_megabyte_in_one_feed() -> None:
    out = feed_all(b"X" * 1_000_000 + b"\r\nQUIT\r\n")
    assert summary(out) == [(LineTooLong, "Command line too long."), Command("QUIT", "")]


def test_cr_at_limit_then_more_bytes_overflows() -> None:
    buf = LineBuffer(max_line=8)
    assert buf.feed(b"STOR abc\r") == []
    out = buf.feed(b"d\r\n")
    assert len(out) == 1
    assert isinstance(out[0], LineTooLong)


def test_max_line_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LineBuffer(0)


def test_parse_command_directly() -> None:
    assert parse_command("cwd /a b") == Command("CWD", "/a b")
    assert parse_command("PWD\r") == Command("PWD", "")
    with pytest.raises(CommandUnrecognized):
        parse_command("")
    with pytest.raises(CommandUnrecognized, match="Syntax error, command unrecognized: 12"):
        parse_command("12 x")


def test_command_is_frozen() -> None:
    cmd = Command("NOOP", "")
    with pytest.raises(AttributeError):
        cmd.name = "QUIT"  # type: ignore[misc]


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_never_raises_and_at_most_one_item_per_line(chunks: list[bytes]) -> None:
    buf = LineBuffer(max_line=32)
    out: list[Command | FtpError] = []
    for chunk in chunks:
        out += buf.feed(chunk)
        assert buf.pending <= 33
    lines = b"".join(chunks).count(b"\n")
    # An over-long line is reported as soon as it overflows, possibly before its LF arrives.
    assert len(out) <= lines + 1
    assert len([x for x in out if not isinstance(x, LineTooLong)]) <= lines
    assert all(isinstance(x, Command | FtpError) for x in out)


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_chunking_does_not_change_the_result(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    buf = LineBuffer(max_line=24)
    out: list[Command | FtpError] = []
    start = 0
    for p in [*points, len(data)]:
        out += buf.feed(data[start:p])
        start = p
    assert summary(out) == summary(feed_all(data, max_line=24))


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=10
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40),
)
def test_command_round_trip(verb: str, arg: str) -> None:
    assert feed_all(f"{verb} {arg}\r\n".encode()) == [Command(verb.upper(), arg)]
