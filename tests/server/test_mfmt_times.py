"""MFMT, MDTM with a time and SITE UTIME take a time-val of exactly 14 digits with seconds up
to 59: strptime also took 13 or 15 digits and the leap seconds 60 and 61, so
'MFMT 20240101000061 f' set 00:01:01 and 'MFMT 2024010100000 f' set a time nobody sent."""

from __future__ import annotations

import os

import pytest

from tests.server.helpers import Raw
from tests.support.live import LiveServer

BAD = ("2024010100000", "202401010000001", "20240101000060", "20240101000061", "20240101\uff10")


@pytest.mark.parametrize("stamp", BAD)
@pytest.mark.parametrize("form", ["MFMT {stamp} f.txt", "MDTM {stamp} f.txt"])
def test_a_bad_time_val_is_501_and_changes_nothing(live: LiveServer, stamp: str, form: str) -> None:
    target = live.files / "f.txt"
    target.write_bytes(b"x")
    os.utime(target, (1_000_000_000, 1_000_000_000))
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.cmd(form.format(stamp=stamp))
        if form.startswith("MDTM") and len(stamp) != 14:  # a question about that name
            assert reply.code == 550, reply
        else:
            assert reply.code == 501 and "expected YYYYMMDDHHMMSS" in reply.text, reply
        assert raw.cmd("NOOP").code == 200
    assert target.stat().st_mtime == 1_000_000_000


def test_fractions_and_the_last_second_still_set(live: LiveServer) -> None:
    (live.files / "f.txt").write_bytes(b"x")
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("MFMT 20240101235959.123 f.txt").text == "Modify=20240101235959; /f.txt"
        assert raw.cmd("SITE UTIME 202401020304 f.txt").code == 200  # ProFTPD's 12 digits
        assert raw.cmd("MDTM f.txt").text == "20240102030400"


@pytest.mark.parametrize("stamp", ["00010101000000", "99991231235959", "19700101000000"])
def test_the_reply_says_the_time_the_file_system_stored(live: LiveServer, stamp: str) -> None:
    """A file system clamps a time outside its range (ext4 stores 00010101000000 as
    19011213204552): the 213 said the time asked for, not the one MDTM then reads."""
    (live.files / "f.txt").write_bytes(b"x")
    with Raw.to(live) as raw:
        raw.login()
        mfmt = raw.cmd(f"MFMT {stamp} f.txt")
        stored = raw.cmd("MDTM f.txt").text
        assert mfmt.text == f"Modify={stored}; /f.txt"
        utime = raw.cmd(f"SITE UTIME {stamp} f.txt")
        assert utime.text.endswith(f"set to {raw.cmd('MDTM f.txt').text}.")
