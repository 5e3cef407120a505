"""Tests for LIST (ls -l) and MLSx formatting and parsing."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasv.protocol.errors import ArgumentError
from pasv.protocol.listing import (
    ALL_MLST_FACTS,
    FileFacts,
    format_list_line,
    format_mlsx_facts,
    format_timeval,
    parse_list_line,
    parse_mlsx_line,
)

DAY = 86400.0


def ts(*parts: int) -> float:
    return float(calendar.timegm((*parts, 0, 0, 0)[:6]))


T = ts(2024, 1, 2, 12, 34, 56)
NOW = T + 3600


def test_list_line_exact_layout() -> None:
    f = FileFacts("name", "file", 1234, T, 0o644)
    assert format_list_line(f, NOW) == "-rw-r--r--   1 ftp      ftp          1234 Jan 02 12:34 name"


def test_list_line_old_date_shows_year_with_two_spaces() -> None:
    f = FileFacts("pub", "dir", 4096, ts(2020, 4, 14, 0, 0, 0), 0o755, nlink=2)
    assert format_list_line(f, NOW) == "drwxr-xr-x   2 ftp      ftp          4096 Apr 14  2020 pub"


@pytest.mark.parametrize(
    ("delta", "recent"),
    [(0, True), (179 * DAY, True), (181 * DAY, False), (-1800, True), (-7200, False)],
)
def test_recent_window(delta: float, recent: bool) -> None:
    line = format_list_line(FileFacts("x", "file", 0, NOW - delta, 0o644), NOW)
    assert (":" in line) is recent


def test_month_names_are_english_for_every_month() -> None:
    months = [
        format_list_line(FileFacts("x", "file", 0, ts(2023, m, 5, 0, 0, 0), 0), NOW).split()[5]
        for m in range(1, 13)
    ]
    assert " ".join(months) == "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"


@pytest.mark.parametrize(
    ("kind", "mode", "head"),
    [
        ("file", 0o4755, "-rwsr-xr-x"),
        ("dir", 0o1777, "drwxrwxrwt"),
        ("dir", 0o2750, "drwxr-s---"),
        ("link", 0o777, "lrwxrwxrwx"),
        ("file", 0o4644, "-rwSr--r--"),
        ("other", 0o600, "-rw-------"),
    ],
)
def test_type_and_permission_chars(kind: str, mode: int, head: str) -> None:
    f = FileFacts("x", kind, 0, T, mode)  # type: ignore[arg-type]
    line = format_list_line(f, NOW)
    assert line.startswith(head + " ")
    parsed = parse_list_line(line, now=NOW)
    assert parsed is not None
    assert parsed.mode == mode & 0o7777


def test_owner_and_group_whitespace_is_replaced() -> None:
    line = format_list_line(FileFacts("x", "file", 1, T, 0o644, owner="a b", group=""), NOW)
    parsed = parse_list_line(line, now=NOW)
    assert parsed is not None
    assert (parsed.owner, parsed.group, parsed.name) == ("a_b", "?", "x")


@pytest.mark.parametrize(
    "name", ["my file.txt", "-leading-dash", " leading space", "café 文件.txt", "a  b", "x -> y"]
)
@pytest.mark.parametrize("mtime", [T, ts(2019, 12, 31, 23, 59, 0)])
def test_unix_round_trip(name: str, mtime: float) -> None:
    f = FileFacts(name, "file", 987654321, mtime, 0o640, nlink=3, owner="alice", group="staff")
    parsed = parse_list_line(format_list_line(f, NOW), now=NOW)
    assert parsed is not None
    assert parsed.name == name
    assert (parsed.kind, parsed.size, parsed.mode, parsed.nlink) == ("file", 987654321, 0o640, 3)
    assert (parsed.owner, parsed.group) == ("alice", "staff")
    precision = 60 if mtime == T else DAY
    assert parsed.mtime == mtime - mtime % precision


def test_symlink_keeps_name_only() -> None:
    line = "lrwxrwxrwx   1 root     root            7 Mar 05  2021 bin -> usr/bin"
    parsed = parse_list_line(line, now=NOW)
    assert parsed is not None
    assert (parsed.name, parsed.kind) == ("bin", "link")


@pytest.mark.parametrize(
    ("line", "name", "kind", "size", "mtime"),
    [
        (
            "drwxr-xr-x    2 0        0            4096 Apr 14  2020 pub",
            "pub", "dir", 4096, ts(2020, 4, 14, 0, 0, 0),
        ),
        (
            "-rw-r--r--    1 1000     1000     12345678 Jan  2 08:05 file name.bin",
            "file name.bin", "file", 12345678, ts(2024, 1, 2, 8, 5, 0),
        ),
        (
            "-rw-r--r--   1 owner      512 Dec 30 23:00 nogroup.txt",
            "nogroup.txt", "file", 512, ts(2023, 12, 30, 23, 0, 0),
        ),
        (
            "-rw-r--r--+  1 u g 1 2023-06-01 10:20 iso.txt",
            "iso.txt", "file", 1, ts(2023, 6, 1, 10, 20, 0),
        ),
        (
            "crw-rw-rw-   1 root     root            0 jan 02  2024 null",
            "null", "other", 0, ts(2024, 1, 2, 0, 0, 0),
        ),
        (
            "01-02-24  12:34PM       <DIR>          name",
            "name", "dir", 0, ts(2024, 1, 2, 12, 34, 0),
        ),
        (
            "01-02-2024  12:34       1234 name",
            "name", "file", 1234, ts(2024, 1, 2, 12, 34, 0),
        ),
        (
            "11-30-99  12:05AM              1,024 old file.txt",
            "old file.txt", "file", 1024, ts(1999, 11, 30, 0, 5, 0),
        ),
        (
            "07-04-23  01:15PM                  0 empty",
            "empty", "file", 0, ts(2023, 7, 4, 13, 15, 0),
        ),
    ],
)  # fmt: skip
def test_parse_list_line_examples(line: str, name: str, kind: str, size: int, mtime: float) -> None:
    parsed = parse_list_line(line + "\r\n", now=NOW)
    assert parsed is not None
    assert (parsed.name, parsed.kind, parsed.size, parsed.mtime) == (name, kind, size, mtime)


def test_time_only_date_in_the_future_means_last_year() -> None:
    parsed = parse_list_line("-rw-r--r-- 1 a b 1 Dec 25 10:00 x", now=NOW)
    assert parsed is not None
    assert parsed.mtime == ts(2023, 12, 25, 10, 0, 0)


@pytest.mark.parametrize(
    "line",
    [
        "total 12",
        "total 0",
        "",
        "   ",
        "hello world",
        "-rw-r--r-- 1 a b 1 Foo 02 12:34 badmonth",
        "-rw-r--r-- 1 a b 1 Feb 31  2024 badday",
        "13-45-24  12:34PM       <DIR>          baddate",
        "01-02-24  13:34PM       <DIR>          badhour",
        "-rw-r--r-- 1 a b x Jan 02 12:34 badsize",
        "12-31-1999  11:59PM     ,   7 commasize",  # found by atheris: int("") raised
    ],
)
def test_parse_list_line_returns_none(line: str) -> None:
    assert parse_list_line(line, now=NOW) is None


def test_parse_list_line_default_now() -> None:
    assert parse_list_line("-rw-r--r-- 1 a b 1 Jan 02  2020 x") is not None


# --- MLSx -------------------------------------------------------------------------------------
def test_mlsx_contract_example() -> None:
    f = FileFacts("name", "file", 3, ts(2024, 1, 2, 3, 4, 5), 0o644, unique="801g1a")
    assert (
        format_mlsx_facts(f, "r")
        == "type=file;size=3;modify=20240102030405;perm=r;unique=801g1a;unix.mode=0644; name"
    )


def test_mlsx_options() -> None:
    f = FileFacts("a b", "dir", 4096, ts(2024, 1, 2, 3, 4, 5) + 0.75, 0o4755)
    assert format_mlsx_facts(f, "el", frozenset({"type", "Modify"})) == (
        "type=dir;modify=20240102030405; a b"
    )
    assert format_mlsx_facts(f, "el", type_override="cdir").startswith("type=cdir;size=4096;")
    assert format_mlsx_facts(f, "el").endswith(";perm=el;unix.mode=04755; a b")
    assert "unique" not in format_mlsx_facts(f, "el")
    assert format_mlsx_facts(f, "", frozenset()) == " a b"
    assert "type=OS.unix=symlink;" in format_mlsx_facts(FileFacts("l", "link", 1, T, 0), "r")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Type=file;Size=1024990;Modify=19970214165800;Perm=r; cmd.exe",
            FileFacts("cmd.exe", "file", 1024990, ts(1997, 2, 14, 16, 58, 0), 0),
        ),
        (
            "type=cdir;sizd=4096;modify=20240102030405;UNIX.mode=0755; /pub",
            FileFacts("/pub", "dir", 4096, ts(2024, 1, 2, 3, 4, 5), 0o755),
        ),
        (
            "type=pdir;modify=20240102030405.123;x.unknown=1; ..",
            FileFacts("..", "dir", 0, ts(2024, 1, 2, 3, 4, 5) + 0.123, 0),
        ),
        (
            "type=OS.unix=slink:/etc;unix.owner=root;unix.group=wheel;unique=U1; etc",
            FileFacts("etc", "link", 0, 0.0, 0, owner="root", group="wheel", unique="U1"),
        ),
        (" type=file;size=1; mlst entry.txt", FileFacts("mlst entry.txt", "file", 1, 0.0, 0)),
        (" no facts", FileFacts("no facts", "other", 0, 0.0, 0)),
        ("type=OS.unix=chr; tty", FileFacts("tty", "other", 0, 0.0, 0)),
    ],
)
def test_parse_mlsx_line(line: str, expected: FileFacts) -> None:
    assert parse_mlsx_line(line + "\r\n") == expected


@pytest.mark.parametrize(
    "line",
    [
        "",
        "type=file;size=1;",
        "type=file;size=1 ",
        "type=file;size=1;name",
        "type=file;size=; x",
        "type=file;size=-1; x",
        "type=file;size=1_0; x",
        "type=file;modify=2024; x",
        "type=file;modify=20241302000000; x",
        "type=file;unix.mode=0999; x",
        "type=file;=1; x",
        "type=file;junk; x",
    ],
)
def test_parse_mlsx_line_malformed(line: str) -> None:
    with pytest.raises(ArgumentError):
        parse_mlsx_line(line)


_names = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=30)


@given(
    _names,
    st.sampled_from(["file", "dir", "link", "other"]),
    st.integers(0, 2**53),
    st.integers(0, 4102444800),
    st.integers(0, 0o7777),
)
def test_mlsx_round_trip(name: str, kind: str, size: int, mtime: int, mode: int) -> None:
    f = FileFacts(name, kind, size, float(mtime), mode, unique="u1")  # type: ignore[arg-type]
    parsed = parse_mlsx_line(format_mlsx_facts(f, "r", ALL_MLST_FACTS))
    assert parsed == f


@given(
    _names,
    st.sampled_from(["file", "dir"]),
    st.integers(0, 10**15),
    st.integers(0, 0o7777),
    st.floats(0, 200 * DAY),
)
def test_list_round_trip(name: str, kind: str, size: int, mode: int, age: float) -> None:
    f = FileFacts(name, kind, size, NOW - age, mode)  # type: ignore[arg-type]
    parsed = parse_list_line(format_list_line(f, NOW), now=NOW)
    assert parsed is not None
    assert (parsed.name, parsed.kind, parsed.size, parsed.mode) == (name, kind, size, mode)
    assert abs(parsed.mtime - f.mtime) < DAY


@pytest.mark.parametrize(
    ("stamp", "year"), [("00240101000000", 24), ("09991231235959", 999), ("20240229120000", 2024)]
)
def test_timeval_has_four_year_digits_and_round_trips(stamp: str, year: int) -> None:
    facts = parse_mlsx_line(f"type=file;modify={stamp}; f")
    assert format_timeval(facts.mtime) == stamp
    assert f"modify={stamp};" in format_mlsx_facts(facts, "r")
    assert parse_mlsx_line(format_mlsx_facts(facts, "r")).mtime == facts.mtime
    assert stamp.startswith(f"{year:04d}")
