"""The doctor says why a connection failed in the reader's language, with the raw errno or TLS
name kept in brackets: real failures on 127.0.0.1 (a closed port, a full listen queue, a
server that stops answering, one that resets, a self-signed certificate, ftps:// on a plain
port) and the errors loopback cannot make (no route, a name lookup); and a server that answers
120 (not ready yet) instead of a greeting."""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import struct
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pasv.client.errors import ConnectionFailed, ReplyTimeout
from pasv.diagnostics.doctor.reasons import reason
from tests.client.scripted import FileServer, Session
from tests.diagnostics.doctor_support import closed_port, doctor, url_of
from tests.support.ftps import Pki, make_pki
from tests.support.live import PASSWORD, USER, LiveServer

ENGLISH_ERRORS = (
    "Errno",
    "Connect call failed",
    "timed out waiting",
    "Connection refused",
    "Connection reset",
    "self-signed certificate.",
    "WRONG_VERSION_NUMBER]",
)


def _runs(url: str, *args: str) -> dict[str, dict[str, Any]]:
    """The report's stages in each Chinese script, by stage name."""
    out = {}
    for lang in ("zh-Hans", "zh-Hant"):
        run = doctor(url, *args, "--lang", lang, "--timeout", "1")
        out[lang] = {s["stage"]: s for s in run.report["stages"]}
    return out


def _no_english_error(stage: object) -> None:
    text = str(stage)
    assert not any(word in text for word in ENGLISH_ERRORS), text


def test_a_closed_port_is_refused_in_chinese() -> None:
    with closed_port() as port:
        runs = _runs(f"ftp://{USER}:{PASSWORD}@127.0.0.1:{port}/")
    assert "连接被拒绝 (ECONNREFUSED)" in runs["zh-Hans"]["tcp"]["details"][0]
    assert "連線被拒絕 (ECONNREFUSED)" in runs["zh-Hant"]["tcp"]["details"][0]
    for stages in runs.values():
        _no_english_error(stages["tcp"])


@contextlib.contextmanager
def full_listen_queue() -> Iterator[int]:
    """A port whose listen queue is full: a connection attempt gets no answer and times out."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())  # takes the one place in the queue
        yield int(listener.getsockname()[1])


def test_a_data_connection_that_times_out_says_so_in_chinese() -> None:
    with full_listen_queue() as silent:

        def epsv(session: Session, arg: str) -> bool:
            session.send(f"229 Entering Extended Passive Mode (|||{silent}|)")
            return True

        with FileServer(hooks={"EPSV": epsv}) as files:
            runs = _runs(f"ftp://bob:pw@127.0.0.1:{files.port}/", "--passive")
    for lang, phrase in (("zh-Hans", "超时,没有应答"), ("zh-Hant", "超時,沒有回應")):
        epsv_stage = runs[lang]["epsv"]
        assert epsv_stage["kind"] == "passive_ports_closed"
        assert f"127.0.0.1 {'端口' if lang == 'zh-Hans' else '埠'} {silent}" in str(epsv_stage)
        assert f"{phrase} (ETIMEDOUT)" in epsv_stage["summary"]
        _no_english_error(epsv_stage)


def test_a_server_that_stops_answering_has_no_reply_in_chinese() -> None:
    with FileServer(hooks={"PASS": lambda session, arg: True}) as files:  # PASS: silence
        runs = _runs(f"ftp://bob:pw@127.0.0.1:{files.port}/")
    login = runs["zh-Hans"]["login"]
    assert "在规定时间内没有回复 (ETIMEDOUT)" in login["summary"]
    assert "在規定時間內沒有回覆 (ETIMEDOUT)" in runs["zh-Hant"]["login"]["summary"]
    _no_english_error(login)


@contextlib.contextmanager
def resetting_server() -> Iterator[int]:
    """Greets, reads one command, then resets the connection (SO_LINGER 0)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.sendall(b"220 ready\r\n")
                conn.recv(1024)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        yield int(listener.getsockname()[1])


def test_a_reset_connection_is_said_in_chinese() -> None:
    with resetting_server() as port:
        runs = _runs(f"ftp://bob:pw@127.0.0.1:{port}/")
    assert "连接被对方重置 (ECONNRESET)" in runs["zh-Hans"]["login"]["summary"]
    assert "連線被對方重設 (ECONNRESET)" in runs["zh-Hant"]["login"]["summary"]


def test_a_self_signed_certificate_is_said_in_chinese(live: LiveServer) -> None:
    runs = _runs(url_of(live, USER, PASSWORD), "--tls")
    tls = runs["zh-Hans"]["tls"]
    assert tls["kind"] == "certificate_untrusted"
    assert "证书是自签名的 (CERTIFICATE_VERIFY_FAILED: self-signed certificate)" in str(tls)
    assert "證書是自行簽署的 (CERTIFICATE_VERIFY_FAILED" in str(runs["zh-Hant"]["tls"])
    _no_english_error(tls)


def test_implicit_tls_on_a_plain_port_is_said_in_chinese(live: LiveServer) -> None:
    runs = _runs(url_of(live, USER, PASSWORD, scheme="ftps"))
    tls = runs["zh-Hans"]["tls"]
    assert tls["kind"] == "implicit_on_plain_port"
    assert "对方没有用 TLS 回应" in tls["summary"] and "(WRONG_VERSION_NUMBER)" in tls["summary"]
    _no_english_error(tls)


@contextlib.contextmanager
def old_tls_server(pki: Pki) -> Iterator[int]:
    """Implicit TLS that speaks TLS 1.1 at most: no version both sides accept."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.chain_file)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the very point of this server
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with contextlib.suppress(OSError), conn:
                    context.wrap_socket(conn, server_side=True).close()

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        yield int(listener.getsockname()[1])


def test_no_common_tls_version_is_said_in_chinese(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    with old_tls_server(pki) as port:
        runs = _runs(f"ftps://bob:pw@127.0.0.1:{port}/", "--ca", str(pki.ca_file))
    tls = runs["zh-Hans"]["tls"]
    assert tls["kind"] == "tls_handshake_failed"
    assert "双方没有都接受的 TLS 版本 (" in tls["summary"]
    assert "雙方沒有都接受的 TLS 版本 (" in runs["zh-Hant"]["tls"]["summary"]


def test_a_name_that_does_not_resolve_is_said_in_chinese() -> None:
    runs = _runs(f"ftp://{USER}:{PASSWORD}@no-such-host.invalid:21/")
    dns = runs["zh-Hans"]["dns"]
    assert dns["kind"] == "dns_failure"
    assert "(EAI_" in dns["summary"] and "DNS" in dns["summary"]
    _no_english_error(dns)


def _wrapped(inner: BaseException) -> ConnectionFailed:
    """As the client raises it: its own error, the OS error kept as the context."""
    try:
        try:
            raise inner
        except OSError:
            raise ConnectionFailed(f"connection lost: {inner}") from None
    except ConnectionFailed as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "zh_hans", "en"),
    [
        (OSError(errno.EHOSTUNREACH, "No route to host"), "没有到达主机的路由 (EHOSTUNREACH)",
         "no route to the host (EHOSTUNREACH)"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "网络不可达 (ENETUNREACH)",
         "network unreachable (ENETUNREACH)"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "连接被对方重置 (ECONNRESET)",
         "connection reset by the other side (ECONNRESET)"),
        (TimeoutError(), "超时,没有应答 (ETIMEDOUT)", "timed out (ETIMEDOUT)"),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
         "DNS 服务器没有应答(暂时性故障) (EAI_AGAIN)", "(a temporary failure) (EAI_AGAIN)"),
        (ssl.SSLError(1, "[SSL: SSLV3_ALERT_HANDSHAKE_FAILURE] handshake failure"),
         "TLS 握手被拒绝 (SSLV3_ALERT_HANDSHAKE_FAILURE)", "TLS handshake was refused"),
        (OSError(errno.EACCES, "Permission denied"), "Permission denied (EACCES)",
         "Permission denied (EACCES)"),
    ],
)  # fmt: skip
def test_errors_loopback_cannot_make_have_their_phrases(
    error: OSError, zh_hans: str, en: str
) -> None:
    for shown in (error, _wrapped(error)):
        assert zh_hans in reason("zh-Hans", shown)
        assert en in reason("en", shown)


def test_the_client_s_own_words_for_a_silence_and_a_hang_up() -> None:
    silence = _wrapped(TimeoutError())
    assert reason("zh-Hans", ReplyTimeout("timed out waiting for the server's reply")) == (
        "在规定时间内没有回复 (ETIMEDOUT)"
    )
    assert reason("zh-Hant", silence) == "超時,沒有回應 (ETIMEDOUT)"
    closed = ConnectionFailed("the server closed the control connection")
    assert reason("zh-Hans", closed) == "对方关闭了连接 (EOF)"


@contextlib.contextmanager
def not_ready_server() -> Iterator[int]:
    """Answers every connection with 120 (ready in 5 minutes), then says nothing more."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                conn.sendall(b"120 Service ready in 5 minutes.\r\n")
                held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        yield int(listener.getsockname()[1])
    for conn in held:
        conn.close()


def test_a_120_before_the_greeting_is_a_server_not_ready_yet() -> None:
    """Not "the server said nothing" nor "an implicit-TLS port": it said when it will serve."""
    with not_ready_server() as port:
        run = doctor(f"ftp://bob:pw@127.0.0.1:{port}/", "--timeout", "1")
        zh = _runs(f"ftp://bob:pw@127.0.0.1:{port}/")
    banner = run.stage("banner")
    assert run.exit_code == 4 and banner["kind"] == "service_delayed"
    assert "120 Service ready in 5 minutes." in banner["summary"]
    assert "not ready" in banner["summary"] and "implicit" not in str(banner["advice"])
    assert "tight loop" in banner["advice"]["fixes"][0]
    assert zh["zh-Hans"]["banner"]["advice"]["title"] == "服务器尚未就绪"
    assert zh["zh-Hant"]["banner"]["advice"]["title"] == "伺服器尚未就緒"


def test_a_server_that_goes_silent_after_login_is_not_said_to_have_closed() -> None:
    with FileServer(hooks={"SITE": lambda session, arg: True}) as files:  # SITE: silence
        run = doctor(f"ftp://bob:pw@127.0.0.1:{files.port}/", "--timeout", "1")
        zh = _runs(f"ftp://bob:pw@127.0.0.1:{files.port}/")
    control = run.stage("control")
    assert control["status"] == "fail" and run.statuses()["login"] == "ok"
    assert control["summary"].startswith("The server stopped answering on the control connection")
    assert "closed" not in control["summary"]
    assert "不再回应:在规定时间内没有回复 (ETIMEDOUT)" in zh["zh-Hans"]["control"]["summary"]
