"""Listing texts as the client reads them: MLSD, Unix ls -l and MS-DOS/IIS."""

from __future__ import annotations

from pasv.client import ClientOptions, FtpClient
from pasv.client.listings import parse_listing
from pasv.client.trace import Kind
from tests.client.scripted import MLST, FileServer

NOW_LIST = """\
drwxr-xr-x   2 ftp      ftp          4096 Jan 02  2024 pub
-rw-r--r--   1 ftp      ftp          1234 Mar 05  2024 read me.txt
lrwxrwxrwx   1 ftp      ftp             7 Mar 05  2024 latest -> pub/v2
"""

IIS_LIST = """\
01-02-24  03:04PM       <DIR>          Reports
12-31-23  11:59AM            1,048,576 big file.bin
"""

MLSD = """\
type=cdir;modify=20240102030405; /pub
type=pdir;modify=20240102030405; /
this line is not MLSD
type=file;size=10;modify=20240102030405;perm=r; a.txt
type=dir;modify=20240102030405; sub
"""


def test_unix_list() -> None:
    entries = parse_listing("total 3\n" + NOW_LIST, mlsd=False, trace=lambda k, t: None)
    assert [(e.name, e.kind, e.size) for e in entries] == [
        ("pub", "dir", 4096),
        ("read me.txt", "file", 1234),
        ("latest", "link", 7),
    ]


def test_ms_dos_iis_list() -> None:
    entries = parse_listing(IIS_LIST, mlsd=False, trace=lambda k, t: None)
    assert [(e.name, e.kind, e.size) for e in entries] == [
        ("Reports", "dir", 0),
        ("big file.bin", "file", 1_048_576),
    ]


def test_mlsd_skips_the_directory_itself_and_unreadable_lines() -> None:
    said: list[tuple[Kind, str]] = []
    entries = parse_listing(MLSD, mlsd=True, trace=lambda k, t: said.append((k, t)))
    assert [(e.name, e.kind, e.size) for e in entries] == [("a.txt", "file", 10), ("sub", "dir", 0)]
    assert len(said) == 1 and "unreadable MLSD line" in said[0][1]


def test_names_that_are_paths_are_skipped_and_said() -> None:
    said: list[str] = []
    text = (
        "type=file;size=1; ../up.txt\r\ntype=file;size=1; /etc/passwd\r\n"
        "type=dir; a/b\r\ntype=file;size=1; back\\slash.txt\r\ntype=file;size=1; ok.txt\r\n"
    )
    entries = parse_listing(text, mlsd=True, trace=lambda kind, line: said.append(line))
    assert [e.name for e in entries] == ["back\\slash.txt", "ok.txt"]  # "\\" is a name on POSIX
    assert said == [
        "Skipped an entry whose name is a path: '../up.txt'",
        "Skipped an entry whose name is a path: '/etc/passwd'",
        "Skipped an entry whose name is a path: 'a/b'",
    ]
    unix = "-rw-r--r--   1 ftp      ftp             1 Mar 05  2024 ../../.bashrc\n"
    assert parse_listing(unix, mlsd=False, trace=lambda kind, line: None) == []


def test_an_mlsd_name_cut_at_a_line_feed_is_dropped_not_taken_for_its_first_part() -> None:
    said: list[str] = []
    text = (
        "type=cdir; .\r\ntype=file;size=3; a\nb\r\ntype=file;size=2; ok\r\n"
        "type=file;size=1; ends\n\r\ntype=pdir; ..\r\ntype=dir; sub\r\n"
    )
    entries = parse_listing(text, mlsd=True, trace=lambda kind, line: said.append(line))
    assert [e.name for e in entries] == ["ok", "sub"]
    assert said == [
        "Skipped an entry whose name has a line break: 'a\\nb'",
        "Skipped an entry whose name has a line break: 'ends\\n'",
    ]


async def test_names_with_characters_splitlines_breaks_at_survive() -> None:
    names = ["Notes\x85txt", "a\x0bb", "c\x0cd", "e\x1cf", "g\u2028h", "café.txt"]
    files = {f"/{name}": b"x\n" for name in names}
    for feat in (("SIZE",), ("SIZE", MLST)):  # LIST, then MLSD
        with FileServer(files, feat=feat, encoding="utf-8") as server:
            async with FtpClient(ClientOptions(timeout=10)) as client:
                await client.connect("127.0.0.1", server.port)
                await client.login("u", "p")
                listed = [e.name for e in await client.listdir("/")]
                nlst = await client.names("/")
        assert sorted(listed) == sorted(names) == sorted(nlst)
