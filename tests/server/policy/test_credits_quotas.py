"""Credits (upload:download ratios), quotas, AVBL and SITE QUOTA/RATIO on a live server."""

from __future__ import annotations

import ftplib
import io
import os

import pytest

from tests.server.helpers import (
    Raw,
    big_download_started,
    code_of,
    retr_bytes,
    upload_taken,
    wait_for,
)
from tests.support.live import USER, LiveServer

KIB = 1024


def _upload_refused(ftp: ftplib.FTP, name: str, data: bytes) -> str:
    """Send ``data`` until the server stops the upload; its final reply."""
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd(f"STOR {name}")
    try:
        conn.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed the data connection at the limit
    finally:
        conn.close()
    return ftp.getline()


def _credit(live: LiveServer) -> int:
    usage = live.policy.usage(USER)
    assert usage is not None
    return usage.credit


def _ratio(live: LiveServer, ratio: str = "1:3", initial: int = 0) -> None:
    live.policy.set_option(f"user:{USER}", "ratio", ratio)
    live.policy.set_option(f"user:{USER}", "initial_credit", initial)
    live.reload_policy()


def test_download_without_credit_is_refused(live: LiveServer) -> None:
    (live.files / "movie.bin").write_bytes(os.urandom(10 * KIB))
    _ratio(live)
    ftp = live.login()
    with pytest.raises(ftplib.error_perm) as caught:
        retr_bytes(ftp, "movie.bin")
    assert str(caught.value) == "550 Sorry, insufficient credit for download - upload first."
    assert ftp.voidcmd("NOOP").startswith("200")  # the session goes on, no data channel left


def test_uploads_earn_credit_and_downloads_spend_it(live: LiveServer) -> None:
    payload = os.urandom(10 * KIB)
    (live.files / "movie.bin").write_bytes(os.urandom(25 * KIB))
    _ratio(live, "1:3")
    ftp = live.login()
    ftp.storbinary("STOR gift.bin", io.BytesIO(payload))
    assert _credit(live) == 30 * KIB  # every uploaded byte earns three
    assert "30720 bytes" in ftp.sendcmd("SITE RATIO")
    assert retr_bytes(ftp, "movie.bin") == (live.files / "movie.bin").read_bytes()
    assert _credit(live) == 5 * KIB
    with pytest.raises(ftplib.error_perm) as caught:
        retr_bytes(ftp, "movie.bin")  # 25 KiB more than the 5 KiB left
    assert code_of(caught.value) == 550
    assert retr_bytes(ftp, "movie.bin", rest=21 * KIB)  # the last 4 KiB fit
    assert _credit(live) == 1 * KIB


def test_initial_credit_and_exempt_users(live: LiveServer) -> None:
    (live.files / "a.bin").write_bytes(b"x" * 2000)
    _ratio(live, "1:1", initial=1000)
    ftp = live.login()
    with pytest.raises(ftplib.error_perm):
        retr_bytes(ftp, "a.bin")
    assert _credit(live) == 1000  # a refused download costs nothing
    live.policy.set_option(f"user:{USER}", "credit_exempt", True)
    live.reload_policy()
    ftp = live.login()
    assert len(retr_bytes(ftp, "a.bin")) == 2000
    assert "exempt" in ftp.sendcmd("SITE RATIO")


def test_an_aborted_download_pays_only_for_what_it_got(live: LiveServer) -> None:
    big = 64 * 1024 * 1024
    _ratio(live, "1:1", initial=big)
    ftp, conn = big_download_started(live)
    try:
        ftp.putcmd("ABOR")
        assert ftp.getline().startswith("426")
        assert ftp.getline().startswith("226")
    finally:
        conn.close()

    def refunded() -> bool:
        return 0 < _credit(live) < big

    wait_for(refunded)
    spent = big - _credit(live)
    assert 0 < spent < big // 2  # paid for the bytes sent before the abort, not the file


def test_an_aborted_upload_earns_nothing(live: LiveServer) -> None:
    _ratio(live, "1:3")
    ftp = live.login()
    conn = ftp.transfercmd("STOR part.bin")
    try:
        conn.sendall(b"y" * 5000)
        wait_for(upload_taken(live, 5000))  # or the ABOR could overtake some of them
        ftp.putcmd("ABOR")  # while the data connection is still open: a real abort
        assert ftp.getline().startswith("426")
        assert ftp.getline().startswith("226")
    finally:
        conn.close()
    assert (live.files / "part.bin").stat().st_size == 5000  # kept for a resume
    assert _credit(live) == 0


def test_quota_stops_an_upload_at_the_limit_and_removes_it(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR small.bin", io.BytesIO(b"s" * 40 * KIB))
    reply = _upload_refused(ftp, "big.bin", os.urandom(200 * KIB))
    assert reply.startswith("552 Exceeded storage allocation. Transfer stopped after")
    assert not (live.files / "big.bin").exists()  # a partial upload is not kept by default
    usage = live.policy.usage(USER)
    assert usage is not None and usage.bytes_used == 40 * KIB and usage.files_used == 1
    assert ftp.sendcmd("AVBL") == f"213 {60 * KIB}"
    assert ftp.sendcmd("SITE QUOTA") == "200 Quota: 40.0 KiB used of 100.0 KiB (60.0 KiB left)."


def test_quota_can_keep_the_partial_file(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    live.policy.set_option(f"user:{USER}", "quota_keep_partial", True)
    live.reload_policy()
    ftp = live.login()
    assert _upload_refused(ftp, "big.bin", os.urandom(300 * KIB)).startswith("552 ")
    assert (live.files / "big.bin").stat().st_size == 100 * KIB  # exactly up to the limit
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary("STOR more.bin", io.BytesIO(b"z"))  # full: refused before 150
    assert code_of(caught.value) == 552


def test_deleting_frees_quota_and_overwriting_counts_the_difference(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR a.bin", io.BytesIO(b"a" * 80 * KIB))
    ftp.storbinary("STOR a.bin", io.BytesIO(b"b" * 90 * KIB))  # replaces: 90 used, not 170
    usage = live.policy.usage(USER)
    assert usage is not None and usage.bytes_used == 90 * KIB and usage.files_used == 1
    ftp.delete("a.bin")
    usage = live.policy.usage(USER)
    assert usage is not None and usage.bytes_used == 0 and usage.files_used == 0


def test_file_count_quota(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_files", 2)
    live.reload_policy()
    ftp = live.login()
    ftp.storbinary("STOR 1.txt", io.BytesIO(b"1"))
    ftp.storbinary("STOR 2.txt", io.BytesIO(b"2"))
    ftp.storbinary("STOR 2.txt", io.BytesIO(b"22"))  # replacing is not a new file
    with pytest.raises(ftplib.error_perm) as caught:
        ftp.storbinary("STOR 3.txt", io.BytesIO(b"3"))
    assert str(caught.value) == "552 Exceeded storage allocation: at most 2 files."
    assert ftp.sendcmd("SITE QUOTA") == "200 Quota: 2 of 2 files."


def test_quota_counts_what_was_there_before(live: LiveServer) -> None:
    (live.files / "old.bin").write_bytes(b"o" * 70 * KIB)  # put there by another program
    live.policy.set_option(f"user:{USER}", "quota_bytes", 100 * KIB)
    live.reload_policy()
    ftp = live.login()
    assert ftp.sendcmd("AVBL") == f"213 {30 * KIB}"


def test_no_limits_reported_plainly(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        assert raw.cmd("SITE QUOTA").text == "No storage allocation limit applies to you."
        assert raw.cmd("SITE RATIO").text == "No ratio applies to you: downloads are free."
        avbl = raw.cmd("AVBL")
        assert avbl.code == 213 and int(avbl.text) > 0
