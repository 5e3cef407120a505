"""File-system commands: CWD/CDUP/PWD, MKD/RMD, DELE, RNFR/RNTO, SIZE, MDTM, MFMT, HASH, SITE,
the X-aliases, and names with UTF-8, spaces or a leading dash."""

from __future__ import annotations

import calendar
import ftplib
import hashlib
import io
import os
import re
import stat
import time
import zlib
from collections.abc import Iterator

import pytest

from tests.server.helpers import Raw, code_of, retr_bytes
from tests.support.live import LiveServer


@pytest.fixture
def raw(live: LiveServer) -> Iterator[Raw]:
    with Raw.to(live) as conn:
        conn.login()
        yield conn


def test_cwd_cdup_pwd(live: LiveServer, raw: Raw) -> None:
    (live.files / "a" / "b").mkdir(parents=True)
    reply = raw.cmd("PWD")
    assert (reply.code, reply.text) == (257, '"/" is the current directory.')
    assert raw.cmd("CWD a/b").code == 250
    assert raw.cmd("PWD").text.startswith('"/a/b"')
    assert raw.cmd("CDUP").code == 250
    assert raw.cmd("PWD").text.startswith('"/a"')
    assert raw.cmd("CWD ./b/../b/.").code == 250
    assert raw.cmd("PWD").text.startswith('"/a/b"')
    assert raw.cmd("CWD /").code == 250
    assert raw.cmd("PWD").text.startswith('"/"')


def test_cwd_refusals_keep_directory(live: LiveServer, raw: Raw) -> None:
    (live.files / "file.txt").write_bytes(b"x")
    (live.files / "d").mkdir()
    assert raw.cmd("CWD d").code == 250
    assert raw.cmd("CWD missing").code == 550
    assert raw.cmd("CWD /file.txt").code == 550
    assert raw.cmd("PWD").text.startswith('"/d"')


def test_x_aliases(live: LiveServer, raw: Raw) -> None:
    assert raw.cmd("XMKD xdir").code == 257
    assert (live.files / "xdir").is_dir()
    assert raw.cmd("XCWD xdir").code == 250
    assert raw.cmd("XPWD").text.startswith('"/xdir"')
    assert raw.cmd("XCUP").code == 250
    assert raw.cmd("XPWD").text.startswith('"/"')
    assert raw.cmd("XRMD xdir").code == 250
    assert not (live.files / "xdir").exists()


def test_mkd_and_rmd(live: LiveServer, raw: Raw) -> None:
    reply = raw.cmd("MKD new")
    assert (reply.code, reply.text) == (257, '"/new" created.')
    assert (live.files / "new").is_dir()
    assert raw.cmd("MKD new").code == 550
    assert raw.cmd("MKD no/such/parent").code == 550
    quoted = raw.cmd('MKD say "hi"')
    assert quoted.text == '"/say ""hi""" created.'
    assert (live.files / 'say "hi"').is_dir()
    (live.files / "new" / "inner.txt").write_bytes(b"x")
    assert raw.cmd("RMD new").code == 550  # not empty
    assert raw.cmd("RMD new/inner.txt").code == 550  # not a directory
    assert raw.cmd("RMD /").code == 550
    assert raw.cmd("RMD missing").code == 550
    os.remove(live.files / "new" / "inner.txt")
    assert raw.cmd("RMD new").code == 250
    assert not (live.files / "new").exists()


def test_dele(live: LiveServer, raw: Raw) -> None:
    (live.files / "gone.txt").write_bytes(b"x")
    (live.files / "adir").mkdir()
    assert raw.cmd("DELE gone.txt").code == 250
    assert not (live.files / "gone.txt").exists()
    assert raw.cmd("DELE gone.txt").code == 550
    assert raw.cmd("DELE adir").code == 550
    assert (live.files / "adir").is_dir()


def test_rename(live: LiveServer, raw: Raw) -> None:
    (live.files / "old.txt").write_bytes(b"content")
    (live.files / "d").mkdir()
    assert raw.cmd("RNFR old.txt").code == 350
    assert raw.cmd("RNTO d/new.txt").code == 250
    assert (live.files / "d" / "new.txt").read_bytes() == b"content"
    assert not (live.files / "old.txt").exists()
    assert raw.cmd("RNFR missing").code == 550
    assert raw.cmd("RNTO x").code == 503
    assert raw.cmd("RNTO x").code == 503
    # any command between RNFR and RNTO drops the pending rename
    assert raw.cmd("RNFR d/new.txt").code == 350
    assert raw.cmd("NOOP").code == 200
    assert raw.cmd("RNTO back.txt").code == 503
    assert (live.files / "d" / "new.txt").exists()
    # a directory can be renamed too
    assert raw.cmd("RNFR d").code == 350
    assert raw.cmd("RNTO e").code == 250
    assert (live.files / "e" / "new.txt").exists()


def test_size_and_mdtm(live: LiveServer, raw: Raw) -> None:
    path = live.files / "s.bin"
    path.write_bytes(b"x" * 1234)
    stamp = calendar.timegm((2021, 3, 4, 5, 6, 7, 0, 0, 0))
    os.utime(path, (stamp, stamp))
    (live.files / "d").mkdir()
    assert raw.cmd("SIZE s.bin") == raw.cmd("SIZE /s.bin")
    assert (raw.cmd("SIZE s.bin").code, raw.cmd("SIZE s.bin").text) == (213, "1234")
    assert raw.cmd("SIZE d").code == 550
    assert raw.cmd("SIZE missing").code == 550
    mdtm = raw.cmd("MDTM s.bin")
    assert (mdtm.code, mdtm.text) == (213, "20210304050607")
    assert raw.cmd("MDTM missing").code == 550


@pytest.mark.parametrize("verb", ["MFMT", "MDTM"])  # MDTM <time> <path>: vsftpd, Pure-FTPd
def test_mfmt_and_mdtm_with_a_time_set_the_modification_time(
    live: LiveServer, raw: Raw, verb: str
) -> None:
    path = live.files / "m.txt"
    path.write_bytes(b"m")
    reply = raw.cmd(f"{verb} 20200102030405 m.txt")
    assert (reply.code, reply.text) == (213, "Modify=20200102030405; /m.txt")
    assert os.stat(path).st_mtime == calendar.timegm((2020, 1, 2, 3, 4, 5, 0, 0, 0))
    assert raw.cmd("MDTM m.txt").text == "20200102030405"  # and asking still asks
    assert raw.cmd(f"{verb} 20200102030405 missing").code == 550
    assert raw.cmd(f"{verb} 20201302030405 m.txt").code == 501  # month 13


def test_mdtm_of_a_name_that_exists_asks_even_if_it_starts_like_a_time(
    live: LiveServer, raw: Raw
) -> None:
    named = live.files / "20180101000000 odd.txt"
    named.write_bytes(b"o")
    os.utime(named, (0, 86400))
    assert raw.cmd("MDTM 20180101000000 odd.txt").text == "19700102000000"
    assert os.stat(named).st_mtime == 86400


def test_times_before_the_year_1000_keep_four_digits(live: LiveServer, raw: Raw) -> None:
    """strftime's %Y wrote the year 24 as "24", a time no client reads. (The file system may
    keep an earlier time than asked: ext4 stops at 1901; MFMT and MDTM say what it kept.)"""
    (live.files / "old.txt").write_bytes(b"o")
    mfmt = raw.cmd("MFMT 00240101000000 old.txt").text
    kept = raw.cmd("MDTM old.txt").text
    assert mfmt == f"Modify={kept}; /old.txt"
    assert re.fullmatch(r"\d{14}", kept) and kept <= "19700101000000"
    assert f"modify={kept};" in raw.cmd("MLST old.txt").lines[1]


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA-256", lambda data: hashlib.sha256(data).hexdigest()),
        ("SHA-1", lambda data: hashlib.sha1(data).hexdigest()),
        ("MD5", lambda data: hashlib.md5(data).hexdigest()),
        ("CRC32", lambda data: f"{zlib.crc32(data):08x}"),
    ],
)
def test_hash(live: LiveServer, raw: Raw, algorithm: str, expected) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(300_000)
    (live.files / "h.bin").write_bytes(data)
    chosen = raw.cmd(f"OPTS HASH {algorithm.lower()}")
    assert (chosen.code, chosen.text) == (200, algorithm)
    assert raw.cmd("OPTS HASH").text == algorithm
    assert f"{algorithm}*" in raw.cmd("FEAT").text
    reply = raw.cmd("HASH h.bin")
    assert reply.code == 213
    assert reply.text == f"{algorithm} 0-{len(data)} {expected(data)} /h.bin"


def test_hash_refusals(live: LiveServer, raw: Raw) -> None:
    (live.files / "d").mkdir()
    assert raw.cmd("HASH d").code == 550
    assert raw.cmd("HASH missing").code == 550
    assert raw.cmd("OPTS HASH WHIRLPOOL").code == 501
    assert raw.cmd("OPTS HASH").text == "SHA-256"  # unchanged by the refused choice


def test_site_help_and_chmod(live: LiveServer, raw: Raw) -> None:
    path = live.files / "p.txt"
    path.write_bytes(b"p")
    os.chmod(path, 0o644)
    helped = raw.cmd("SITE HELP")
    assert helped.code == 214
    assert any("CHMOD" in line for line in helped.lines)
    reply = raw.cmd("SITE CHMOD 600 p.txt")
    assert reply.code == 200
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert raw.cmd("site chmod 0755 p.txt").code == 200
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    assert raw.cmd("SITE CHMOD 644 missing").code == 550
    assert raw.cmd("SITE CHMOD abc p.txt").code == 501
    assert raw.cmd("SITE CHMOD 644").code == 501
    assert raw.cmd("SITE BOGUS x").code == 501
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755


NAMES = ["日本語 ファイル.txt", "café.txt", "my file.txt", "-x.txt", "  leading spaces.txt"]


@pytest.mark.parametrize("name", NAMES)
def test_unusual_names_round_trip(live: LiveServer, name: str) -> None:
    ftp = live.login()
    data = name.encode("utf-8") * 100
    ftp.storbinary(f"STOR {name}", io.BytesIO(data))
    assert (live.files / name).read_bytes() == data
    assert name in ftp.nlst()
    lines: list[str] = []
    ftp.retrlines(f"LIST {name}", lines.append)
    assert len(lines) == 1
    assert lines[0].endswith(" " + name)
    assert lines[0].startswith("-rw")
    assert retr_bytes(ftp, name) == data
    assert ftp.size(name) == len(data)
    ftp.rename(name, name + ".renamed")
    assert (live.files / (name + ".renamed")).exists()
    ftp.delete(name + ".renamed")
    assert not any(live.files.iterdir())


def test_unusual_directory_names(live: LiveServer) -> None:
    ftp = live.login()
    for name in ("répertoire", "two words", "-dash"):
        assert ftp.mkd(name) == f"/{name}"
        ftp.cwd(name)
        assert ftp.pwd() == f"/{name}"
        ftp.cwd("/")
        assert (live.files / name).is_dir()
    assert sorted(ftp.nlst()) == sorted(["répertoire", "two words", "-dash"])
    for name in ("répertoire", "two words", "-dash"):
        ftp.rmd(name)
    assert not any(live.files.iterdir())


def test_file_ops_leave_session_usable_after_errors(live: LiveServer) -> None:
    ftp = live.login()
    for call in (lambda: ftp.delete("nope"), lambda: ftp.rmd("nope"), lambda: ftp.size("nope")):
        with pytest.raises(ftplib.error_perm) as exc:
            call()
        assert code_of(exc.value) == 550
    assert ftp.pwd() == "/"
    assert ftp.mkd("ok") == "/ok"


def test_mdtm_reflects_upload_time(live: LiveServer) -> None:
    ftp = live.login()
    before = int(time.time()) - 2
    ftp.storbinary("STOR t.txt", io.BytesIO(b"t"))
    stamp = ftp.sendcmd("MDTM t.txt").split()[1]
    uploaded = calendar.timegm(time.strptime(stamp, "%Y%m%d%H%M%S"))
    assert before <= uploaded <= int(time.time()) + 2
