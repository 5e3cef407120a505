"""/metrics scraped during a real mix of FTP sessions (ftplib and curl), checked against it."""

from __future__ import annotations

import ftplib
import io
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from tests.server.helpers import wait_for
from tests.support.ftps import ftps_login
from tests.support.live import PASSWORD, USER, LiveServer, start_server
from tests.support.scrape import scrape, value

KIB = 1024


def _scrape(live: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    address = live.server.metrics_address
    assert address is not None
    return scrape(*address)


def _curl(live: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("curl")
    if binary is None:
        pytest.skip("curl is not installed")
    return subprocess.run([binary, "-s", "-S", *args], capture_output=True, text=True, timeout=30)


def test_a_session_mix_is_counted_exactly(live: LiveServer) -> None:
    before = _scrape(live)
    assert value(before, "pasv_logins_total") == 0
    ftp = live.login()
    ftp.storbinary("STOR one.bin", io.BytesIO(b"1" * 10 * KIB))
    ftp.storbinary("STOR two.bin", io.BytesIO(b"2" * 3 * KIB))
    chunks: list[bytes] = []
    ftp.retrbinary("RETR one.bin", chunks.append)
    assert len(b"".join(chunks)) == 10 * KIB
    for name in ("missing-1", "missing-2"):
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.retrbinary(f"RETR {name}", chunks.append)
    with pytest.raises(ftplib.error_perm, match=r"^500"):
        ftp.sendcmd("FROB")
    ftp.delete("two.bin")
    for _ in range(2):  # wrong passwords from ftplib ...
        bad = live.connect()
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            bad.login(USER, "wrong")
        bad.close()
    url = f"ftp://{live.host}:{live.port}/"
    # ... and from curl, plus curl's own login, download and upload
    refused = _curl(live, "-u", f"{USER}:nope", f"{url}one.bin", "-o", "/dev/null")
    assert refused.returncode != 0
    got = _curl(live, "-u", f"{USER}:{PASSWORD}", f"{url}one.bin")
    assert got.returncode == 0 and len(got.stdout) == 10 * KIB
    upload = live.settings.server.data_dir / "three.bin"
    upload.write_bytes(b"3" * 5 * KIB)
    put = _curl(live, "-u", f"{USER}:{PASSWORD}", "-T", str(upload), f"{url}three.bin")
    assert put.returncode == 0, put.stderr
    assert (live.files / "three.bin").stat().st_size == 5 * KIB

    samples = _scrape(live)
    assert value(samples, "pasv_logins_total") == 3  # ftplib once, curl twice
    assert value(samples, "pasv_login_failures_total", reason="password") == 3
    assert value(samples, "pasv_refusals_total", code="530", **{"class": "NotLoggedIn"}) == 3
    assert value(samples, "pasv_refusals_total", code="550", **{"class": "PathNotFound"}) == 2
    assert (
        value(samples, "pasv_refusals_total", code="500", **{"class": "CommandUnrecognized"}) == 1
    )
    assert value(samples, "pasv_files_deleted_total") == 1
    assert value(samples, "pasv_transfer_bytes_total", direction="in") == 18 * KIB
    assert value(samples, "pasv_transfer_bytes_total", direction="out") == 20 * KIB
    done = "pasv_transfer_duration_seconds_count"
    assert (
        value(samples, done, direction="in", result="complete") == 3
    )  # two by ftplib, one by curl
    assert value(samples, done, direction="out", result="complete") == 2
    assert value(samples, done, direction="out", result="failed") == 0
    bucket = "pasv_transfer_duration_seconds_bucket"
    assert value(samples, bucket, direction="out", result="complete", le="+Inf") == 2
    # the ftplib session is still logged in and idle
    assert value(samples, "pasv_sessions", state="logged_in") == 1
    assert value(samples, "pasv_sessions", state="transferring") == 0


def test_sessions_by_state_and_passive_ports(live: LiveServer) -> None:
    idle = live.connect()  # greeted, not logged in
    user = live.login()
    user.sendcmd("TYPE I")
    host, port = ftplib.parse227(user.sendcmd("PASV"))  # a passive port is now held
    samples = _scrape(live)
    assert value(samples, "pasv_sessions", state="connected") == 1
    assert value(samples, "pasv_sessions", state="logged_in") == 1
    assert value(samples, "pasv_passive_ports_in_use") == 1
    conn = socket.create_connection((host, port), timeout=10)
    user.putcmd("STOR held.bin")  # an upload that waits for bytes: the session is transferring
    assert user.getresp().startswith("150")
    conn.sendall(b"x" * 100)
    wait_for(lambda: value(_scrape(live), "pasv_sessions", state="transferring") == 1)
    conn.close()
    assert user.voidresp().startswith("226")
    idle.close()
    user.quit()
    wait_for(
        lambda: (
            sum(
                value(_scrape(live), "pasv_sessions", state=s)
                for s in ("connected", "logged_in", "transferring")
            )
            == 0
        )
    )
    assert value(_scrape(live), "pasv_passive_ports_in_use") == 0


def test_bans_issued_and_active(live: LiveServer) -> None:
    store = live.policy
    store.set_option("", "ban_allowlist", "")
    store.set_option("", "hammer_failures", 2)
    live.reload_policy()
    ftp = live.connect()
    with pytest.raises(ftplib.error_perm):
        ftp.login(USER, "wrong")
    with pytest.raises(ftplib.error_temp, match=r"^421 Too many failed logins"):
        ftp.login(USER, "wrong")
    samples = _scrape(live)
    assert value(samples, "pasv_bans_issued_total", reason="login_failures") == 1
    assert value(samples, "pasv_bans_active") == 1
    assert value(samples, "pasv_login_failures_total", reason="password") == 2


def test_quota_and_data_connection_failures(live: LiveServer) -> None:
    live.policy.set_option(f"user:{USER}", "quota_bytes", 10 * KIB)
    live.policy.set_option("", "data_timeout", 0.3)
    live.reload_policy()
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("STOR big.bin")
    try:
        conn.sendall(b"q" * 200 * KIB)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed the data connection at the limit
    finally:
        conn.close()
    assert ftp.getline().startswith("552 ")
    ftp.sendcmd("PASV")  # and nobody connects: 425 after the data timeout
    ftp.putcmd("LIST")
    assert ftp.getline().startswith("425 ")
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    with socket.create_connection((host, port), timeout=10, source_address=("127.0.0.9", 0)):
        pass  # from another address than the client's: refused (data-connection theft)
    foreign = {"kind": "foreign_peer"}
    wait_for(lambda: value(_scrape(live), "pasv_data_connection_failures_total", **foreign) == 1)
    samples = _scrape(live)
    assert value(samples, "pasv_quota_reached_total") == 1
    assert value(samples, "pasv_refusals_total", code="552", **{"class": "QuotaExceeded"}) == 1
    assert value(samples, "pasv_data_connection_failures_total", kind="passive_timeout") == 1
    failed = "pasv_transfer_duration_seconds_count"
    assert value(samples, failed, direction="in", result="failed") == 1


def test_the_listener_answers_only_metrics(live: LiveServer) -> None:
    address = live.server.metrics_address
    assert address is not None
    base = f"http://{address[0]}:{address[1]}"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/admin", timeout=10)
    assert missing.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as posted:
        urllib.request.urlopen(f"{base}/metrics", data=b"x", timeout=10)
    assert posted.value.code == 405
    asked = urllib.request.Request(
        f"{base}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(asked, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
        assert answer.read().endswith(b"# EOF\n")
    with socket.create_connection(address, timeout=10) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert value(_scrape(live), "pasv_logins_total") == 0  # still serving


def test_metrics_can_be_turned_off(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", metrics={"enabled": False})
    try:
        assert live.server.metrics_address is None
        live.login().quit()
    finally:
        live.stop()


def test_login_failures_by_reason(tmp_path: Path) -> None:
    live = start_server(
        tmp_path / "data", tls={"require_login_tls": True, "anonymous_exempt": True}
    )
    try:
        live.policy.set_option("", "max_sessions_per_ip", 1)
        live.reload_policy()
        plain = live.connect()
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            plain.login("anonymous", "guest@example.com")  # anonymous is off
        with pytest.raises(ftplib.error_perm, match=r"^5"):
            plain.login(USER, PASSWORD)  # TLS is required for this login
        first = ftplib.FTP_TLS(timeout=10)
        first.connect(live.host, live.port)
        first.auth()
        first.login(USER, PASSWORD)
        second = ftplib.FTP_TLS(timeout=10)
        second.connect(live.host, live.port)
        second.auth()
        with pytest.raises(ftplib.error_perm, match=r"^530 .*only 1 session"):
            second.login(USER, PASSWORD)  # the per-IP limit
        samples = _scrape(live)
        failures = "pasv_login_failures_total"
        assert value(samples, failures, reason="anonymous_disabled") == 1
        assert value(samples, failures, reason="tls_required") == 1
        assert value(samples, failures, reason="refused") == 1
        assert value(samples, failures, reason="password") == 0
        assert value(samples, "pasv_logins_total") == 1
        first.quit()
        second.close()
    finally:
        live.stop()


def test_a_refused_data_tls_handshake_is_a_tls_failure(live: LiveServer) -> None:
    (live.files / "secret.bin").write_bytes(b"x" * 5000)
    ftp = ftps_login(live, reuse=False)  # a fresh TLS session on the data connection
    with pytest.raises(ftplib.error_perm, match=r"^522"):
        ftp.retrbinary("RETR secret.bin", lambda chunk: None)
    samples = _scrape(live)
    assert value(samples, "pasv_data_connection_failures_total", kind="tls") == 1
    assert value(samples, "pasv_refusals_total", code="522", **{"class": "DataTlsFailed"}) == 1
    failed = "pasv_transfer_duration_seconds_count"
    assert value(samples, failed, direction="out", result="failed") == 1
    ftp.quit()


def test_mode_z_transfers_count_file_bytes(live: LiveServer) -> None:
    text = b"a line of a log file that compresses well\n" * 2000
    ftp = live.login()
    ftp.voidcmd("TYPE I")
    assert ftp.sendcmd("MODE Z").startswith("200")
    conn = ftp.transfercmd("STOR z.log")
    conn.sendall(zlib.compress(text))
    conn.close()
    assert ftp.voidresp().startswith("226")
    conn = ftp.transfercmd("STOR cut.log")  # a deflate stream that never ends: not complete
    conn.sendall(zlib.compress(text)[:-20])
    conn.close()
    assert ftp.getline().startswith("426 ")
    samples = _scrape(live)
    assert (live.files / "z.log").read_bytes() == text
    cut = value(samples, "pasv_transfer_bytes_total", direction="in") - len(text)
    assert 0 <= cut < len(text)  # the uncompressed bytes, not the few compressed ones
    done = "pasv_transfer_duration_seconds_count"
    assert value(samples, done, direction="in", result="complete") == 1
    assert value(samples, done, direction="in", result="failed") == 1
