"""A webhook URL's user part, path and query: used as the operator meant, never logged."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import pytest

from tests.server.helpers import wait_for
from tests.server.test_hooks import Receiver
from tests.support.live import LiveServer, start_server
from tests.support.scrape import scrape, value

PASSWORD = "receiver-p@ss"


def _given_up(live: LiveServer, hook: str) -> bool:
    address = live.server.metrics_address
    assert address is not None
    samples = scrape(*address)
    return value(samples, "pasv_hook_deliveries_total", hook=hook, result="failed") == 1


@pytest.mark.parametrize("status", [500, 302])
def test_the_user_part_is_basic_auth_and_no_log_line_holds_a_secret(
    tmp_path: Path, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver(status)
    port = receiver.http.server_address[1]
    url = f"http://ops:{PASSWORD.replace('@', '%40')}@127.0.0.1:{port}/in/Tk3y-secret?sig=q-secret"
    caplog.set_level(logging.INFO, logger="pasv.hooks")
    live = start_server(
        tmp_path / "data",
        hooks=[{"name": "guarded", "url": url, "retries": 0, "events": ["upload_complete"]}],
    )
    try:
        live.login().storbinary("STOR a.bin", io.BytesIO(b"a"))
        headers, _ = receiver.next()
        assert (
            headers["authorization"]
            == "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
        )
        assert headers["host"] == f"127.0.0.1:{port}"
        wait_for(lambda: _given_up(live, "guarded"), timeout=20)
        assert receiver.got.empty()  # a redirect is not followed, an error not retried here
        lines = [r.getMessage() for r in caplog.records if "guarded" in r.getMessage()]
        given_up = [line for line in lines if "given up" in line]
        assert given_up and f"http://127.0.0.1:{port} answered {status}" in given_up[0]
        if status == 302:
            assert "redirects are not followed" in given_up[0]
        for secret in ("p@ss", "p%40ss", "Tk3y-secret", "q-secret"):
            assert not any(secret in line for line in lines)
    finally:
        live.stop()
        receiver.close()
