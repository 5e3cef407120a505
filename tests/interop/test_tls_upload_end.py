"""curl's FTPS uploads are never cut short by the server (the late-ticket reset, reproduced)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.helpers import sha256_file, write_random
from tests.interop.test_tls_curl import curl, explicit_url, implicit_url
from tests.support.ftps import Pki
from tests.support.live import USER, LiveServer

pytestmark = pytest.mark.interop

SIZE = 6 * 1024 * 1024 + 77
RATE = 3 * 1024 * 1024  # bytes/s: the server reads slower than curl writes


@pytest.mark.parametrize("kind", ["implicit", "explicit"])
def test_slowly_read_upload_arrives_whole(
    signed: LiveServer, pki: Pki, tmp_path: Path, kind: str
) -> None:
    """curl writes the whole file into its socket buffers, sends close_notify and closes while
    the server still reads (throttled). A TLS 1.3 session ticket sent on the data connection
    would sit unread in curl's receive buffer at that close: Linux then resets the connection
    and drops what curl had not yet sent. No ticket on data connections: the file arrives whole,
    and the 226 names every byte."""
    signed.policy.set_option(f"user:{USER}", "upload_rate", RATE)
    signed.reload_policy()
    upload = tmp_path / "up.bin"
    digest = write_random(upload, SIZE, seed=11)
    url = implicit_url(signed, "up.bin") if kind == "implicit" else explicit_url(signed, "up.bin")
    extra = () if kind == "implicit" else ("--ssl-reqd",)
    _, log = curl(url, pki, *extra, "-T", str(upload))
    assert f"< 226 Transfer complete: {SIZE} bytes" in log
    assert sha256_file(signed.files / "up.bin") == digest
