"""The catalogue of servers' refusal texts: each literal text is recognised as its own kind,
with the server and setting named, in every language; refusals of a mode are refusals."""

from __future__ import annotations

import re

import pytest

from pasv.diagnostics.classify import STAGES, classify_message, classify_reply
from pasv.diagnostics.explain import explain
from pasv.diagnostics.knowledge import LANGS, Refusal, knowledge

REFUSALS = knowledge().refusals
SERVERS = {"pyftpdlib", "vsftpd", "ProFTPD", "Pure-FTPd", "FileZilla Server", "Serv-U",
           "IIS FTP", "SFTPGo", "pasv"}  # fmt: skip
CLASSES = {
    "session_limit_per_ip", "session_limit_per_user", "too_many_users", "group_limit", "banned",
    "login_timeout", "idle_timeout", "shutting_down", "tls_required", "unauthorized_ip",
    "anonymous_refused", "login_incorrect", "storage_exceeded", "insufficient_credit",
    "prohibited_name", "active_refused", "active_foreign_address", "passive_refused",
    "data_tls_required", "tls_session_reuse_required", "data_connection_failed",
    "transfer_aborted", "disk_full",
}  # fmt: skip
DATA_WORDS = re.compile(r"\b(227|229|PASV|EPSV|PORT|EPRT|(?i:passive|active mode|data connection))")
CONTROL_STAGES = {"dns", "tcp", "greeting", "tls", "login"}


def _example(refusal: Refusal) -> str:
    """The text as a server would send it, with the placeholders filled."""
    filled = {"{n}": "3", "{minutes}": "15", "{name}": "evil.exe", "{until}": "12:00", "{*}": "x y"}
    text = refusal.text
    for hole, value in filled.items():
        text = text.replace(hole, value)
    return text


def test_the_catalogue_covers_every_server_and_class() -> None:
    assert {r.server for r in REFUSALS} == SERVERS
    assert {r.kind for r in REFUSALS} >= CLASSES
    codes = {r.code for r in REFUSALS}
    assert codes >= {421, 530, 550, 553, 425, 426, 450, 451, 452, 522, 534, 500, 501}
    assert all(r.kind in {t.kind for t in knowledge().texts} for r in REFUSALS)


@pytest.mark.parametrize("refusal", REFUSALS, ids=lambda r: f"{r.server}:{r.code}:{r.text[:30]}")
def test_each_catalogue_text_is_its_own_kind(refusal: Refusal) -> None:
    command = sorted(refusal.commands)[0] + " 1,2,3,4,5,6" if refusal.commands else None
    # At a stage where its kind happens (one text can mean two things: SFTPGo's "421 TLS is
    # required" answers a login and a transfer alike).
    stages = knowledge().kind(refusal.kind).stages
    stage = next(s for s in STAGES if s in stages)
    found = classify_reply(refusal.code, _example(refusal), command=command, stage=stage)
    assert found is not None and found.kind == refusal.kind
    assert refusal.server in found.server.split(", ")
    # Sent in lower case, without the final period, as people copy them: still recognised.
    again = classify_reply(
        refusal.code, _example(refusal).lower().rstrip("."), command=command, stage=stage
    )
    assert again is not None and again.kind == refusal.kind
    for lang in LANGS:
        advice = found.advice(lang)
        text = " ".join([advice.title, advice.meaning, *advice.causes, *advice.fixes])
        assert "{" not in text and "?" not in advice.meaning, text
        assert refusal.server in advice.causes[-1]


def test_the_setting_behind_a_reply_is_named() -> None:
    found = classify_reply(421, "There are too many connections from your internet address.")
    assert found is not None and (found.server, found.setting) == ("vsftpd", "max_per_ip")
    assert "max_per_ip" in found.advice("zh-Hant").causes[-1]


@pytest.mark.parametrize(
    ("code", "text", "kind"),
    [
        (421, "Too many connections from the same IP address.", "session_limit_per_ip"),
        (421, "Too many connections (8) from this IP", "session_limit_per_ip"),
        (421, "Too many users - please try again later.", "too_many_users"),
        (421, "Too many users - group staff allows 2 at a time, please try again later.",
         "group_limit"),
        (421, "Too many connections. Service temporarily unavailable.", "too_many_users"),
        (421, "Timeout.", "idle_timeout"),
        (421, "Login timeout (60 seconds): closing control connection.", "login_timeout"),
        (421, "Server shutting down.", "shutting_down"),
    ],
)  # fmt: skip
def test_a_421_says_which_421_it_is(code: int, text: str, kind: str) -> None:
    [found] = explain(f"{code} {text}")
    assert found.diagnosis is not None and found.diagnosis.kind == kind
    rendered = found.render("en")
    # Not the whole list of 421s: the code's general causes are left out.
    assert rendered["general"]["causes"] == [] and "unknown_text" not in rendered


def test_advice_never_contradicts_the_diagnosis() -> None:
    """Only a ban says the address is banned; others may warn that retrying can lead to one."""
    banned = re.compile(r"(you are|your address is|address is) banned|被封禁|已被封", re.I)
    for entry in knowledge().texts:
        for lang in LANGS:
            advice = entry.advice[lang]
            said = advice.title + advice.meaning
            assert bool(banned.search(said)) == (entry.kind == "banned"), (entry.kind, lang)


def test_a_ban_gives_its_end_when_the_text_does() -> None:
    timed = classify_reply(421, "Too many connection attempts from your address; banned for "
                                "15 minutes.")  # fmt: skip
    assert timed is not None and "(15 minutes)" in timed.advice("en").meaning
    assert "15 分钟" in timed.advice("zh-Hans").meaning
    assert "15 分鐘" in timed.advice("zh-Hant").meaning
    open_ended = classify_reply(421, "Temporarily banned for too many failed login attempts")
    assert open_ended is not None and open_ended.kind == "banned"
    assert "?" not in open_ended.advice("en").meaning + " ".join(open_ended.advice("en").fixes)


@pytest.mark.parametrize("command", ["PORT 192,168,1,20,4,17", "EPRT |1|192.168.1.20|1041|"])
@pytest.mark.parametrize(
    ("code", "text"),
    [(500, "Illegal PORT command."), (500, "Syntax error, command unrecognized."),
     (501, "Rejected data connection to foreign address 192.168.1.20:1041."),
     (502, "Command not implemented."), (504, "Command not implemented for that parameter."),
     (550, "Permission denied.")],
)  # fmt: skip
def test_a_refused_port_is_active_mode_refused_never_a_syntax_error(
    command: str, code: int, text: str
) -> None:
    found = classify_reply(code, text, command=command)
    assert found is not None and found.kind.startswith("active_")
    advice = found.advice("en")
    assert "refuses active mode" in advice.title
    assert "passive" in " ".join(advice.fixes).lower()
    assert "syntax error" not in advice.meaning.lower().replace("not a syntax error", "")


def test_refusals_of_passive_modes_and_of_auth() -> None:
    epsv = classify_reply(500, "'EPSV': command not understood.", command="EPSV")
    assert epsv is not None and epsv.kind == "epsv_unsupported"
    pasv = classify_reply(550, "Permission denied.", command="PASV")
    assert pasv is not None and (pasv.kind, pasv.setting) == ("passive_refused", "pasv_enable")
    auth = classify_reply(502, "Unrecognized encryption type (use TLS or SSL).", command="AUTH TLS")
    assert auth is not None and auth.kind == "auth_refused"
    # A refusal that says something more precise keeps its meaning.
    login_first = classify_reply(530, "Please login with USER and PASS.", command="PORT 1,2")
    assert login_first is not None and login_first.kind == "not_logged_in_yet"


def test_an_unknown_text_falls_back_to_the_code_and_says_so() -> None:
    [found] = explain("421 The moon is in the wrong phase.")
    assert found.diagnosis is None
    for lang in LANGS:
        rendered = found.render(lang)
        assert "421" in rendered["unknown_text"] and rendered["general"]["causes"]


def test_each_kind_declares_real_stages() -> None:
    for entry in knowledge().texts:
        assert entry.stages and entry.stages <= set(STAGES), entry.kind


def test_control_connection_kinds_never_offer_data_channel_causes() -> None:
    for entry in knowledge().texts:
        if entry.stages <= CONTROL_STAGES:
            advice = entry.advice["en"]
            said = " ".join([advice.meaning, *advice.causes, *advice.fixes])
            assert not DATA_WORDS.search(said), (entry.kind, DATA_WORDS.search(said))


@pytest.mark.parametrize("message", ["Connection timed out", "Connection refused"])
def test_the_same_message_is_explained_for_its_stage(message: str) -> None:
    control = classify_message(message, "tcp")
    data = classify_message(message, "data")
    assert control is not None and data is not None and control.kind != data.kind
    control_text = " ".join(control.advice("en").causes + control.advice("en").fixes)
    data_text = " ".join(data.advice("en").causes + data.advice("en").fixes)
    assert "227" not in control_text and "227" in data_text
    # Without a stage, a message names the data connection only when it says so.
    assert classify_message(message) == control
    bracket = classify_message(f"ERROR: [Data]: {message}")
    assert bracket is not None and bracket.kind == data.kind


def test_a_reply_is_offered_only_where_it_can_happen() -> None:
    # "Permission denied" is a file-system refusal: at the login stage it is not one.
    assert classify_reply(550, "Permission denied.", stage="login") is None
    found = classify_reply(550, "Permission denied.", stage="write")
    assert found is not None and found.kind == "permission_denied"
