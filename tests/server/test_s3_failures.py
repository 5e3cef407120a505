"""SeaweedFS killed in the middle of an upload: 451 with the reason, nothing reported complete,
and the object that was there before is still whole when the store comes back."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
from pathlib import Path

import pytest

from tests.support.live import start_server
from tests.support.seaweed import SECRET_KEY, start_weed, unique_prefix

MIB = 1024 * 1024


def test_store_killed_mid_upload_gives_451_and_keeps_the_old_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weed = start_weed(tmp_path / "weed")
    prefix = unique_prefix()
    live = start_server(tmp_path / "data", storage=weed.storage_settings(prefix))
    try:
        ftp = live.login()
        before = os.urandom(MIB + 5)
        assert ftp.storbinary("STOR f.bin", io.BytesIO(before)).startswith("226")
        ftp.voidcmd("TYPE I")
        data = ftp.transfercmd("STOR f.bin")
        block = os.urandom(256 * 1024)
        sent = 0
        try:
            while sent < 9 * MIB:  # more than one 8 MiB part sent to the server
                data.sendall(block)
                sent += len(block)
            weed.kill()
            while sent < 256 * MIB:  # bounded: the server stops reading once the store fails
                data.sendall(block)
                sent += len(block)
        except OSError:
            pass  # the server closed the data connection: the upload failed
        finally:
            data.close()
        with pytest.raises(ftplib.error_temp) as failed:
            ftp.voidresp()
        reply = str(failed.value)
        assert reply.startswith("451 S3 storage"), reply
        assert "Transfer stopped after" in reply
        with pytest.raises(ftplib.error_temp, match="451 S3 storage unreachable"):
            ftp.nlst()
        log_line = next(
            line for line in reversed(live.settings.xferlog_path.read_text().splitlines())
        )
        assert log_line.split()[8].endswith("f.bin") and log_line.endswith(" i")  # incomplete

        weed = start_weed(tmp_path / "weed", ports=weed.ports)  # the same store comes back
        assert weed.keys(prefix) == {f"{prefix}/f.bin": len(before)}
        assert weed.wait_readable(f"{prefix}/f.bin") == before  # its volume is back too
        out = io.BytesIO()
        ftp.retrbinary("RETR f.bin", out.write)  # the same session goes on
        assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(before).digest()
        assert "Could not connect to the endpoint URL" in caplog.text  # the reason, logged
        assert SECRET_KEY not in caplog.text  # the reason is logged, the credentials never
    finally:
        live.stop()
        weed.kill()


def test_store_down_before_login_refuses_transfers_with_451(tmp_path: Path) -> None:
    weed = start_weed(tmp_path / "weed")
    weed.kill()
    live = start_server(tmp_path / "data", storage=weed.storage_settings(unique_prefix()))
    try:
        ftp = live.login()
        with pytest.raises(ftplib.error_temp, match="451 S3 storage unreachable"):
            ftp.storbinary("STOR x.bin", io.BytesIO(b"data"))
        with pytest.raises(ftplib.error_temp, match="451 S3 storage unreachable"):
            ftp.size("x.bin")
        assert ftp.voidcmd("NOOP").startswith("200")  # the session goes on
    finally:
        live.stop()
