"""The classification seam `pasv doctor` reuses: replies, OS errors and the locale."""

from __future__ import annotations

import errno
import socket

import pytest

from pasv.diagnostics.classify import (
    classify_os_error,
    classify_reply,
    code_advice,
    language_from_locale,
)


def test_a_refused_connection_on_loopback_is_classified() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
        port = holder.getsockname()[1]
        with pytest.raises(OSError) as caught, socket.socket() as sock:
            sock.connect(("127.0.0.1", port))
    diagnosis = classify_os_error(caught.value)
    assert diagnosis is not None and diagnosis.kind == "connection_refused"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TimeoutError("timed out"), "connection_timed_out"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "dns_failure"),
        (ConnectionResetError(errno.ECONNRESET, "reset by peer"), "disconnected_at_connect"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "host_unreachable"),
    ],
)
def test_os_errors_map_to_kinds(exc: OSError, kind: str) -> None:
    diagnosis = classify_os_error(exc)
    assert diagnosis is not None and diagnosis.kind == kind
    assert diagnosis.advice("zh-Hans").title


def test_a_reply_text_needs_a_matching_code() -> None:
    assert classify_reply(550, "Too many users - please try again later.") is None
    found = classify_reply(421, "Too many users - please try again later.")
    assert found is not None and found.kind == "too_many_users"


def test_code_advice() -> None:
    advice = code_advice(426, "en")
    assert advice is not None and "passive" in " ".join(advice.fixes)
    assert code_advice(299, "en") is None


@pytest.mark.parametrize(
    ("names", "lang"),
    [
        (("zh_CN.UTF-8",), "zh-Hans"),
        (("zh_TW",), "zh-Hant"),
        (("zh_HK.UTF-8",), "zh-Hant"),
        (("zh_Hant_TW",), "zh-Hant"),
        (("zh_SG",), "zh-Hans"),
        (("en_US.UTF-8", "zh_CN"), "en"),
        ((None, "zh_CN"), "zh-Hans"),
        (("C", None), "en"),
        ((None, None), "en"),
        (("de_DE.UTF-8",), "en"),
    ],
)
def test_language_from_locale(names: tuple[str | None, ...], lang: str) -> None:
    assert language_from_locale(*names) == lang
