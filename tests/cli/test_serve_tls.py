"""`pasv serve` with TLS as a person runs it: the printed fingerprint, a real SIGHUP reload."""

from __future__ import annotations

import os
import re
import signal
import ssl
import time
from pathlib import Path

from tests.cli import support
from tests.cli.support import _free_port, _read_until, _serve
from tests.support.ftps import ReusingFTP_TLS, insecure_context, make_pki, served_fingerprint

stop = support.stop


def _credentials(lines: list[str]) -> tuple[str, str]:
    url = next(line.strip() for line in lines if line.strip().startswith("ftp://"))
    user, password = re.match(r"ftp://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    return user, password


def _fingerprint_line(lines: list[str]) -> str:
    found = next(line for line in lines if "SHA-256 fingerprint:" in line)
    return found.rsplit(" ", 1)[1].replace(":", "").lower()


def _ftps(port: int, user: str, password: str, context: ssl.SSLContext) -> ReusingFTP_TLS:
    ftp = ReusingFTP_TLS(context=context, timeout=10)
    ftp.connect("127.0.0.1", port)
    ftp.auth()
    ftp.login(user, password)
    ftp.prot_p()
    return ftp


def _seen(ftp: ReusingFTP_TLS) -> str:
    assert isinstance(ftp.sock, ssl.SSLSocket)
    return served_fingerprint(ftp.sock)


def test_first_start_creates_a_self_signed_certificate_and_prints_its_fingerprint(
    tmp_path: Path, stop: list
) -> None:
    port = _free_port()
    proc = _serve(tmp_path / "data", port)
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    assert any("Created a self-signed TLS certificate" in line for line in lines)
    printed = _fingerprint_line(lines)
    user, password = _credentials(lines)
    with _ftps(port, user, password, insecure_context()) as ftp:
        assert _seen(ftp) == printed
    assert (tmp_path / "data" / "tls" / "self-signed.pem").exists()


def test_sighup_serves_a_new_certificate_and_keeps_the_open_session(
    tmp_path: Path, stop: list
) -> None:
    pki = make_pki(tmp_path / "pki")
    first = _fingerprint_line([f"SHA-256 fingerprint: {pki.issue(pki.chain_file)}"])
    port = _free_port()
    proc = _serve(tmp_path / "data", port, "--certificate", str(pki.chain_file))
    stop.append(proc)
    lines = _read_until(proc, r"listening on")
    assert _fingerprint_line(lines) == first
    user, password = _credentials(lines)
    old = _ftps(port, user, password, pki.client_context())
    try:
        assert _seen(old) == first
        second = pki.issue(pki.chain_file)
        os.kill(proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 15
        while True:
            with _ftps(port, user, password, pki.client_context()) as fresh:
                if _seen(fresh) == second:
                    break
            assert time.monotonic() < deadline, "the new certificate was never served"
            time.sleep(0.05)
        assert old.nlst() == []  # the session from before the reload still transfers
        assert old.voidcmd("NOOP").startswith("200")
    finally:
        old.close()
    assert proc.poll() is None  # SIGHUP did not stop the server
