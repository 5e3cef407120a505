"""Tests for reply encoding and the incremental reply parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import FtpError, ProtocolViolation
from pasv.protocol.replies import MAX_REPLY_LINE, Reply, ReplyParser, make_reply


def test_single_line_encoding() -> None:
    assert Reply(200, ("Command okay.",)).encode() == b"200 Command okay.\r\n"


def test_multi_line_encoding() -> None:
    reply = Reply(211, ("Features:", " MDTM", " SIZE", "End"))
    assert reply.encode() == b"211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n"
    assert reply.text == "Features:\n MDTM\n SIZE\nEnd"


@pytest.mark.parametrize(
    ("middle", "wire"),
    [
        ("211 looks like the end", b" 211 looks like the end"),
        ("226-dash", b" 226-dash"),
        ("999", b" 999"),
        ("  200 indented", b"   200 indented"),
        ("2000 four digits", b"2000 four digits"),
        ("12 two digits", b"12 two digits"),
    ],
)
def test_middle_lines_that_look_like_codes_are_indented(middle: str, wire: bytes) -> None:
    encoded = Reply(211, ("first", middle, "last")).encode()
    assert encoded == b"211-first\r\n" + wire + b"\r\n211 last\r\n"
    assert ReplyParser().feed(encoded) == [Reply(211, ("first", middle, "last"))]


def test_stray_cr_and_lf_cannot_break_framing() -> None:
    assert Reply(550, ("bad\rname",)).encode() == b"550 badname\r\n"
    assert Reply(550, ("a\nb",)).encode() == b"550-a\r\n550 b\r\n"


def test_encode_other_encoding_and_unencodable() -> None:
    assert Reply(257, ('"/café" created.',)).encode("latin-1") == b'257 "/caf\xe9" created.\r\n'
    assert Reply(257, ("文",)).encode("latin-1") == b"257 ?\r\n"


def test_surrogate_escaped_names_keep_their_bytes() -> None:
    name = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert Reply(250, (name,)).encode() == b"250 caf\xe9\r\n"


def test_code_must_have_three_digits() -> None:
    with pytest.raises(ValueError):
        Reply(1000, ("x",))


def test_make_reply_uses_phrase_by_default() -> None:
    assert make_reply(ReplyCode.OK) == Reply(200, ("Command okay.",))
    assert type(make_reply(ReplyCode.OK).code) is int
    assert make_reply(522).lines == ("Network protocol not supported.",)


def test_make_reply_splits_lines() -> None:
    assert make_reply(211, "Features:\n MDTM\nEnd\n") == Reply(211, ("Features:", " MDTM", "End"))
    assert make_reply(214, "a\r\nb") == Reply(214, ("a", "b"))
    assert make_reply(200, "") == Reply(200, ("",))


def test_parser_single_and_pipelined() -> None:
    parser = ReplyParser()
    assert parser.feed(b"220 Welcome\r\n331 Need password\r\n") == [
        Reply(220, ("Welcome",)),
        Reply(331, ("Need password",)),
    ]


def test_parser_incremental_and_bare_lf() -> None:
    parser = ReplyParser()
    assert parser.feed(b"211-Feat") == []
    assert parser.in_reply
    assert parser.feed(b"ures:\n MDTM\n") == []
    assert parser.feed(b"211 End") == []
    assert parser.feed(b"\r\n") == [Reply(211, ("Features:", " MDTM", "End"))]
    assert not parser.in_reply


def test_parser_strips_same_code_dash_prefix_in_middle_lines() -> None:
    data = b"211-Extensions supported:\r\n211-MDTM\r\n211-SIZE\r\n211 END\r\n"
    assert ReplyParser().feed(data) == [
        Reply(211, ("Extensions supported:", "MDTM", "SIZE", "END"))
    ]


def test_parser_other_code_lines_do_not_end_a_reply() -> None:
    data = b"211-a\r\n200 b\r\n211x\r\n211 c\r\n"
    assert ReplyParser().feed(data) == [Reply(211, ("a", "200 b", "211x", "c"))]


def test_parser_code_without_text() -> None:
    assert ReplyParser().feed(b"200\r\n") == [Reply(200, ("",))]
    assert ReplyParser().feed(b"211-x\r\n211\r\n") == [Reply(211, ("x", ""))]


def test_parser_latin1_fallback() -> None:
    assert ReplyParser().feed(b"550 caf\xe9: no such file\r\n") == [
        Reply(550, ("café: no such file",))
    ]
    assert ReplyParser().feed('257 "/文件"\r\n'.encode()) == [Reply(257, ('"/文件"',))]


@pytest.mark.parametrize(
    "line", [b"hello\r\n", b"20 short\r\n", b"2000 x\r\n", b"\r\n", b"abc ok\r\n", b" 200 x\r\n"]
)
def test_malformed_first_line_raises(line: bytes) -> None:
    with pytest.raises(ProtocolViolation) as info:
        ReplyParser().feed(line)
    assert isinstance(info.value, FtpError)
    assert info.value.code == ReplyCode.LOCAL_ERROR
    assert info.value.text.startswith("Malformed reply from server")


def test_protocol_violation_default_text() -> None:
    assert ProtocolViolation().text == "Malformed reply from server."


def test_over_long_line_raises_even_without_lf() -> None:
    parser = ReplyParser()
    parser.feed(b"200 " + b"x" * (MAX_REPLY_LINE - 10))
    with pytest.raises(ProtocolViolation):
        parser.feed(b"x" * 100)


def test_over_long_line_with_lf_raises() -> None:
    with pytest.raises(ProtocolViolation):
        ReplyParser().feed(b"200 " + b"x" * MAX_REPLY_LINE + b"\r\n")


def test_line_just_under_limit_is_fine() -> None:
    text = "x" * (MAX_REPLY_LINE - 4)
    assert ReplyParser().feed(f"200 {text}\r\n".encode()) == [Reply(200, (text,))]


_line = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)
_reply = st.builds(Reply, st.integers(100, 599), st.lists(_line, min_size=1, max_size=6).map(tuple))


@given(_reply)
def test_encode_parse_round_trip(reply: Reply) -> None:
    assert ReplyParser().feed(reply.encode()) == [reply]


@given(st.lists(_reply, min_size=1, max_size=4), st.integers(1, 7))
def test_round_trip_in_small_chunks(replies: list[Reply], size: int) -> None:
    data = b"".join(r.encode() for r in replies)
    parser = ReplyParser()
    out: list[Reply] = []
    for i in range(0, len(data), size):
        out += parser.feed(data[i : i + size])
    assert out == replies
    assert not parser.in_reply


def test_parser_decodes_with_the_chosen_encoding() -> None:
    wire = '257 "/Привет" created.\r\n'.encode("cp1251")
    assert ReplyParser(encoding="cp1251").feed(wire) == [Reply(257, ('"/Привет" created.',))]
    # The default (UTF-8) cannot decode cp1251 and falls back to latin-1 instead of failing.
    assert ReplyParser().feed(wire)[0].text == wire[4:-2].decode("latin-1")
