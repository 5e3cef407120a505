"""Event hooks: a command and a signed webhook get the events with the right data; a failing
or hanging hook is counted and logged, and FTP sessions go on regardless."""

from __future__ import annotations

import ftplib
import hashlib
import hmac
import http.server
import io
import json
import logging
import queue
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pasv.config import ConfigError, load_settings
from pasv.server.hooks import environment, sign
from tests.server.helpers import wait_for
from tests.support.ftps import make_pki
from tests.support.live import USER, LiveServer, start_server
from tests.support.scrape import scrape, value

SECRET = "hook-secret-for-tests"
RECORDER = """
import json, os, sys
event = json.load(sys.stdin)
env = {k: v for k, v in os.environ.items() if k.startswith("PASV_EVENT")}
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({"event": event, "env": env}) + "\\n")
"""


class Receiver:
    """A local HTTP server that records each POST and answers with ``status``; HTTPS with
    ``tls``."""

    def __init__(self, status: int = 204, tls: ssl.SSLContext | None = None) -> None:
        self.status = status
        self.got: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            self.http.socket = tls.wrap_socket(self.http.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http.server_address[1]}/pasv-events"

    def next(self) -> tuple[dict[str, str], bytes]:
        return self.got.get(timeout=20)

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def _serve(tmp_path: Path, *hooks: dict[str, Any]) -> LiveServer:
    return start_server(tmp_path / "data", hooks=list(hooks))


def _metrics(live: LiveServer) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    address = live.server.metrics_address
    assert address is not None
    return scrape(*address)


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_command_hook_gets_each_event_on_stdin_and_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    script = tmp_path / "record.py"
    script.write_text(RECORDER)
    live = _serve(
        tmp_path, {"name": "recorder", "command": [sys.executable, str(script), str(out)]}
    )
    try:
        ftp = live.login()
        ftp.storbinary("STOR report.csv", io.BytesIO(b"a,b\n" * 100))
        ftp.retrbinary("RETR report.csv", lambda chunk: None)
        ftp.delete("report.csv")
        with pytest.raises(ftplib.error_perm):
            live.connect().login("mallory", "guess")
        wait_for(lambda: len(_lines(out)) == 4, timeout=30)
        got = {line["event"]["event"]: line for line in _lines(out)}
        assert set(got) == {"upload_complete", "download_complete", "file_deleted", "login_failed"}
        upload = got["upload_complete"]["event"]
        assert upload["user"] == USER and upload["path"] == "/report.csv" and upload["bytes"] == 400
        assert upload["ip"] == "127.0.0.1" and upload["seconds"] >= 0 and len(upload["id"]) == 32
        assert upload["time"].endswith("Z")
        assert got["download_complete"]["event"]["bytes"] == 400
        assert got["file_deleted"]["event"]["path"] == "/report.csv"
        failed = got["login_failed"]["event"]
        assert failed["user"] == "mallory" and failed["reason"] == "password"
        env = got["upload_complete"]["env"]
        assert env["PASV_EVENT"] == "upload_complete"
        assert env["PASV_EVENT_PATH"] == "/report.csv" and env["PASV_EVENT_BYTES"] == "400"
        assert env["PASV_EVENT_USER"] == USER
        ok = {"hook": "recorder", "result": "ok"}  # counted once each program has exited
        wait_for(lambda: value(_metrics(live), "pasv_hook_deliveries_total", **ok) == 4)
    finally:
        live.stop()


def test_a_webhook_gets_signed_json(tmp_path: Path, receiver: Receiver) -> None:
    live = _serve(
        tmp_path,
        {"url": receiver.url, "secret": SECRET, "events": ["upload_complete", "ban"]},
    )
    try:
        store = live.policy
        store.set_option("", "ban_allowlist", "")
        store.set_option("", "hammer_failures", 2)
        live.reload_policy()
        ftp = live.login()
        ftp.storbinary("STOR a.bin", io.BytesIO(b"z" * 777))
        bad = live.connect()
        for _ in range(2):
            with pytest.raises(ftplib.Error):
                bad.login(USER, "wrong")
        seen: dict[str, dict[str, Any]] = {}
        for _ in range(2):
            headers, body = receiver.next()
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-pasv-signature"], expected)
            assert headers["content-type"] == "application/json"
            event = json.loads(body)
            assert headers["x-pasv-event"] == event["event"]
            assert headers["x-pasv-delivery"] == event["id"]
            seen[event["event"]] = event
        assert seen["upload_complete"]["path"] == "/a.bin"
        assert seen["upload_complete"]["bytes"] == 777
        assert seen["ban"]["ip"] == "127.0.0.1" and seen["ban"]["minutes"] >= 14
        assert seen["ban"]["kind"] == "login_failures" and seen["ban"]["offences"] == 1
        assert seen["ban"]["reason"] == "Too many failed logins from your address"
        assert receiver.got.empty()  # the login failures were not asked for
    finally:
        live.stop()


def test_only_complete_transfers_are_events_and_quota_is_one(
    tmp_path: Path, receiver: Receiver
) -> None:
    live = _serve(tmp_path, {"url": receiver.url})
    try:
        live.policy.set_option(f"user:{USER}", "quota_bytes", 10 * 1024)
        live.reload_policy()
        ftp = live.login()
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("STOR big.bin")
        try:
            conn.sendall(b"q" * 200 * 1024)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server closed the data connection at the limit
        finally:
            conn.close()
        assert ftp.getline().startswith("552 ")
        headers, body = receiver.next()
        event = json.loads(body)
        assert event["event"] == "quota_reached" and event["user"] == USER
        assert event["path"] == "/big.bin" and event["message"] == "Exceeded storage allocation."
        assert "signature" not in " ".join(headers)  # no secret configured: no signature
        ftp.storbinary("STOR small.bin", io.BytesIO(b"s" * 100))
        _, body = receiver.next()
        assert json.loads(body)["event"] == "upload_complete"  # the stopped upload never was
    finally:
        live.stop()


def test_a_failing_webhook_is_retried_then_given_up(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 500
    caplog.set_level(logging.WARNING, logger="pasv.hooks")
    live = _serve(
        tmp_path,
        {"name": "flaky", "url": receiver.url, "retries": 2, "backoff": 0.01},
    )
    try:
        live.login().storbinary("STOR a.bin", io.BytesIO(b"a"))
        bodies = {receiver.next()[1] for _ in range(3)}
        assert len(bodies) == 1  # the same event three times (first attempt and two retries)

        def given_up() -> bool:
            return (
                value(_metrics(live), "pasv_hook_deliveries_total", hook="flaky", result="failed")
                == 1
            )

        wait_for(given_up, timeout=20)
        samples = _metrics(live)
        assert value(samples, "pasv_hook_attempts_failed_total", hook="flaky") == 3
        assert receiver.got.empty()  # never retried for ever
        assert any("given up" in r.getMessage() and "500" in r.getMessage() for r in caplog.records)
    finally:
        live.stop()


BLOCKED = """
import os, sys, time
while not os.path.exists(sys.argv[1]):  # held until the test releases it, then fails
    time.sleep(0.01)
sys.exit(3)
"""


def test_a_blocked_hook_does_not_hold_up_sessions(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pasv.hooks")
    release = tmp_path / "release"
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKED)
    command = [sys.executable, str(script), str(release)]
    live = _serve(tmp_path, {"name": "stuck", "command": command, "retries": 0, "queue": 2})
    try:
        for index in range(10):  # every session completes while the hook is stuck
            ftp = live.login()
            ftp.storbinary(f"STOR f{index}.bin", io.BytesIO(b"x" * 1000))
            assert ftp.quit().startswith("221")
        assert len(list(live.files.glob("f*.bin"))) == 10
        # one event is with the program, two wait in the queue, the other seven were dropped
        stuck = {"hook": "stuck"}
        samples = _metrics(live)
        assert value(samples, "pasv_hook_deliveries_total", **stuck, result="dropped") == 7
        assert value(samples, "pasv_hook_deliveries_total", **stuck, result="failed") == 0
        release.touch()
        wait_for(
            lambda: (
                value(_metrics(live), "pasv_hook_deliveries_total", **stuck, result="failed") == 3
            ),
            timeout=30,
        )
        messages = [r.getMessage() for r in caplog.records]
        assert any("hook stuck: queue full (2 waiting)" in m for m in messages)
        assert any("exited with status 3; given up" in m for m in messages)
    finally:
        live.stop()


def test_a_hanging_hook_is_timed_out_and_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pasv.hooks")
    hang = [sys.executable, "-c", "import time; time.sleep(600)"]
    hook = {"name": "hangs", "command": hang, "timeout": 0.3, "retries": 1, "backoff": 0.01}
    live = _serve(tmp_path, hook)
    try:
        ftp = live.login()
        ftp.storbinary("STOR a.bin", io.BytesIO(b"a"))
        assert ftp.quit().startswith("221")
        failed = {"hook": "hangs", "result": "failed"}
        wait_for(lambda: value(_metrics(live), "pasv_hook_deliveries_total", **failed) == 1)
        assert value(_metrics(live), "pasv_hook_attempts_failed_total", hook="hangs") == 2
        messages = [r.getMessage() for r in caplog.records]
        assert any("hook hangs" in m and "TimeoutError; given up" in m for m in messages)
    finally:
        live.stop()


def test_an_https_webhook_checks_the_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(str(pki.chain_file))
    receiver = Receiver(tls=server_side)
    trusted = {"name": "trusted", "url": receiver.url, "ca_file": str(pki.ca_file)}
    untrusted = {"name": "untrusted", "url": receiver.url, "retries": 0}  # the system's CAs
    live = _serve(tmp_path, trusted, untrusted)
    try:
        live.login().storbinary("STOR tls.bin", io.BytesIO(b"t" * 10))
        _, body = receiver.next()
        assert json.loads(body)["path"] == "/tls.bin"

        def counted(hook: str, result: str) -> bool:
            return (
                value(_metrics(live), "pasv_hook_deliveries_total", hook=hook, result=result) == 1
            )

        wait_for(lambda: counted("trusted", "ok") and counted("untrusted", "failed"))
        assert receiver.got.empty()  # the hook that does not trust the CA sent nothing
    finally:
        live.stop()
        receiver.close()


@pytest.mark.parametrize(
    ("hook", "problem"),
    [
        ({"command": ["true"], "url": "http://127.0.0.1:1/"}, "either command or url"),
        ({}, "either command or url"),
        ({"url": "ftp://x/"}, "expected an http:// or https:// URL"),
        ({"url": "http://127.0.0.1:1/", "events": ["upload"]}, "unknown event 'upload'"),
        ({"url": "http://127.0.0.1:1/", "retries": -1}, "hooks.0.retries"),
        ({"url": "https://127.0.0.1:1/", "ca_file": "/nonexistent/ca.pem"}, "no such file"),
    ],
)
def test_bad_hook_settings_are_named(hook: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=r"hooks\.0") as refused:
        load_settings(None, {"hooks": [hook]}, environ={})
    assert problem in str(refused.value)


def test_hook_names_must_differ() -> None:
    hook = {"name": "audit", "url": "http://127.0.0.1:1/"}
    with pytest.raises(ConfigError, match=r"hooks: two hooks are named 'audit'"):
        load_settings(None, {"hooks": [hook, hook]}, environ={})


def test_bad_metrics_address_is_named() -> None:
    with pytest.raises(ConfigError, match=r'metrics\.listen: expected "host:port"'):
        load_settings(None, {"metrics": {"listen": "9121"}}, environ={})


def test_the_environment_holds_plain_fields_only() -> None:
    env = environment({"event": "login_failed", "user": "a\x00b", "failures": 2, "extra": {"x": 1}})
    assert env["PASV_EVENT"] == "login_failed"
    assert env["PASV_EVENT_USER"] == "ab"  # no NUL can reach execve
    assert env["PASV_EVENT_FAILURES"] == "2"
    assert "PASV_EVENT_EXTRA" not in env
    assert set(env) == {"PATH", "PASV_EVENT", "PASV_EVENT_USER", "PASV_EVENT_FAILURES"}


def test_the_signature_is_the_documented_hmac() -> None:
    body = b'{"event":"ban"}'
    assert sign("k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
