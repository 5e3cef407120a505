"""The session log's lines: one JSON object each, whatever a name or a reply text holds."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasv.protocol.replies import ReplyCode
from pasv.server.sessionlog import SessionLog

_ANY = st.characters(blacklist_categories=())  # lone surrogates too (bytes FTP could not decode)


@settings(max_examples=300, deadline=None)
@given(user=st.text(_ANY), text=st.text(_ANY), ip=st.sampled_from(["127.0.0.1", "::1", 'bad"ip\n']))
def test_every_line_is_the_json_of_its_event(
    tmp_path_factory: pytest.TempPathFactory, user: str, text: str, ip: str
) -> None:
    path = tmp_path_factory.mktemp("log") / "sessions.log"
    log = SessionLog(path)
    before = time.time()
    try:
        log.record("login", ip, user, ReplyCode.LOGGED_IN, text)
        log.record("connect_refused", ip, "", 421, "")
    finally:
        log.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3  # two lines, each ended; nothing split a line
    first, second = (json.loads(line) for line in lines[:2])
    stamp = first.pop("time")
    assert before - 0.001 <= stamp <= time.time() + 0.001
    expected_user = user.encode("utf-8", "replace").decode("utf-8")
    expected_text = text.encode("utf-8", "replace").decode("utf-8")
    assert first == {
        "event": "login",
        "ip": ip,
        "user": expected_user,
        "code": 230,
        "text": expected_text,
    }
    assert second["event"] == "connect_refused" and second["code"] == 421
    assert lines[0].decode("utf-8") == json.dumps(
        {
            "time": stamp,
            "event": "login",
            "ip": ip,
            "user": expected_user,
            "code": 230,
            "text": expected_text,
        },
        ensure_ascii=False,
    )
