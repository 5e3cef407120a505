"""`pasv explain --log`: users' pasted client logs read as one story, the first failed step
explained at its stage; every client format pasv knows; the CLI with a file and with stdin."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.diagnostics.clientlog import read_log
from pasv.diagnostics.knowledge import LANGS
from pasv.diagnostics.story import read_story

LOGS = Path(__file__).parent / "fixtures" / "logs"
CJK = re.compile(r"[\u4e00-\u9fff]")
runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "kind", "stage", "line"),
    [
        ("servu_anonymous.txt", "anonymous_refused", "login", 4),
        ("servu_password.txt", "login_incorrect", "login", 6),
        ("servu_timeout.txt", "connection_timed_out", "tcp", 2),
        ("servu_refused.txt", "connection_refused", "tcp", 2),
        ("servu_retry.txt", "banned", "greeting", 3),
        ("servu_unauthorized_ip.txt", "unauthorized_ip", "login", 6),
        ("servu_credit.txt", "insufficient_credit", "data", 3),
        ("servu_too_many.txt", "too_many_users", "login", 4),
        ("firewall_426.txt", "transfer_aborted", "data", 2),
        ("passive_refused_data.txt", "data_connection_refused", "data", 2),
        ("stalled_after_150.txt", "transfer_stalled", "data", 12),
        ("active_port_ok_then_timeout.txt", "active_connect_failed", "data", 12),
    ],
)
def test_users_logs(name: str, kind: str, stage: str, line: int) -> None:
    story = read_story((LOGS / name).read_text("utf-8"))
    assert story.diagnosis is not None and story.diagnosis.kind == kind
    assert story.stage == stage and story.failed is not None and story.failed.number == line
    for lang in LANGS:
        rendered = story.render(lang)
        assert rendered["advice"]["title"] and rendered["advice"]["fixes"]
        assert bool(CJK.search(rendered["summary"])) == (lang != "en")
    said = " ".join(story.render("en")["advice"]["causes"] + story.render("en")["advice"]["fixes"])
    if stage in ("tcp", "greeting", "login"):
        assert "227" not in said and "passive port" not in said


def test_a_whole_session_without_failure() -> None:
    story = read_story((LOGS / "filezilla_zh_ok.txt").read_text("utf-8"))
    assert story.failed is None and len(story.events) == 12
    assert story.render("zh-Hant")["summary"] == "這份日誌中沒有失敗的步驟。"


def test_a_227_then_refused_names_nat_or_the_firewall() -> None:
    nat = read_story(
        "Status: Connecting to 203.0.113.5:21...\nResponse: 220 ready\nCommand: USER a\n"
        "Response: 331 pw\nCommand: PASS ****\nResponse: 230 ok\nCommand: PASV\n"
        "Response: 227 Entering Passive Mode (192,168,1,10,195,80)\nCommand: MLSD\n"
        "Error: Connection timed out after 20 seconds of inactivity\n"
    )
    assert nat.diagnosis is not None and nat.diagnosis.kind == "data_connection_timed_out"
    context = " ".join(nat.render("en")["context"])
    assert "192.168.1.10" in context and "203.0.113.5" in context and "NAT" in context
    assert "195*256+80 = 50000" in nat.render("en")["decoded"][0]
    firewall = read_story(
        "Status: Connecting to 203.0.113.5:21...\nResponse: 220 ready\nCommand: PASV\n"
        "Response: 227 Entering Passive Mode (203,0,113,5,195,80)\nCommand: LIST\n"
        "Error: Connection refused\n"
    )
    assert firewall.diagnosis is not None and firewall.diagnosis.kind == "data_connection_refused"
    assert "firewall" in " ".join(firewall.render("en")["context"])


def test_a_425_in_active_mode_blames_the_clients_side() -> None:
    story = read_story(
        "Response: 220 ready\nCommand: USER a\nResponse: 331 pw\nCommand: PASS ****\n"
        "Response: 230 ok\nCommand: PORT 192,168,1,20,4,17\n"
        "Response: 200 PORT command successful\nCommand: LIST\n"
        "Response: 425 Can't open data connection.\n"
    )
    assert story.diagnosis is not None and story.diagnosis.kind == "data_connection_failed"
    assert story.stage == "data"
    context = " ".join(story.render("en")["context"])
    assert "192.168.1.20 port 1041" in context and "passive mode" in context
    assert "1041" in " ".join(story.render("zh-Hant")["context"])


def test_a_refusal_the_client_works_around_is_not_the_failure() -> None:
    story = read_story(
        "Response: 220 ready\nCommand: AUTH TLS\nResponse: 500 unknown command\n"
        "Command: USER a\nResponse: 331 pw\nCommand: PASS ****\nResponse: 230 ok\n"
        "Command: EPSV\nResponse: 500 unknown\nCommand: PASV\n"
        "Response: 227 Entering Passive Mode (203,0,113,5,195,80)\nCommand: RETR f\n"
        "Response: 550 f: No such file or directory.\n"
    )
    assert story.failed is not None and story.failed.text.startswith("550")
    assert story.diagnosis is not None and story.diagnosis.kind == "not_found"


# One failure each, in the form each client writes its log.
FORMATS = {
    "winscp": (
        ". 2024-05-01 10:00:00.100 Connecting to 198.51.100.7 ...\n"
        "< 2024-05-01 10:00:00.200 220 Welcome\n> 2024-05-01 10:00:00.300 USER bob\n"
        "< 2024-05-01 10:00:00.400 331 Password required\n"
        "> 2024-05-01 10:00:00.500 PASS ***\n"
        "< 2024-05-01 10:00:00.600 530 Login incorrect.\n"
        "* 2024-05-01 10:00:00.700 Access denied.\n",
        "login_incorrect",
    ),
    "lftp": (
        "---- Connecting to 127.0.0.1 (127.0.0.1) port 21\n<--- 220 (vsFTPd 3.0.3)\n"
        "---> USER bob\n<--- 331 Please specify the password.\n---> PASS XXXX\n"
        "<--- 230 Login successful.\n---> PORT 127,0,0,1,156,64\n"
        "<--- 500 Illegal PORT command.\n",
        "active_foreign_address",
    ),
    "curl": (
        "*   Trying 127.0.0.1:21...\n* Connected to 127.0.0.1 (127.0.0.1) port 21\n"
        "< 421 There are too many connections from your internet address.\n"
        "* Closing connection\ncurl: (8) Weird server reply\n",
        "session_limit_per_ip",
    ),
    "ftp.exe": (
        "ftp> open 198.51.100.7\nConnected to 198.51.100.7.\n220 Microsoft FTP Service\n"
        "User (198.51.100.7:(none)): bob\n331 Password required\n\n230 User logged in.\n"
        "ftp> put notes.txt\n200 PORT command successful.\n"
        "550 Data channel timed out due to not meeting the minimum bandwidth requirement.\n",
        "data_timeout",
    ),
    "ftplib": (
        "*cmd* 'USER bob'\n*resp* '331 Username ok, send password.'\n*cmd* 'PASS *****'\n"
        "*resp* '230 Login successful.'\n*cmd* 'PASV'\n"
        "*resp* '227 Entering Passive Mode (10,0,0,5,195,80).'\n*cmd* 'NLST'\n"
        'Traceback (most recent call last):\n  File "x.py", line 5, in <module>\n'
        "ConnectionRefusedError: [Errno 111] Connection refused\n",
        "data_connection_refused",
    ),
    "pasv": (
        "Status:   Connecting to 127.0.0.1 port 2121\nResponse: 220 pasv ready\n"
        "Command:  USER bob\nResponse: 331 Password required\nCommand:  PASS ****\n"
        "Response: 530 Not logged in, only 1 session(s) from same IP allowed at a time.\n",
        "session_limit_per_ip",
    ),
    "filezilla-3": (
        "Status:\tResolving address of ftp.example.org\n"
        "Status:\tConnecting to 198.51.100.7:21...\n"
        'Status:\tConnection attempt failed with "ETIMEDOUT - Connection attempt timed out".\n'
        "Error:\tCould not connect to server\n",
        "connection_timed_out",
    ),
    "filezilla-file": (
        "2024-05-01 10:00:00 1234 1 Status: Connecting to 198.51.100.7:21...\n"
        "2024-05-01 10:00:00 1234 1 Response: 220 ready\n"
        "2024-05-01 10:00:00 1234 1 Command: USER bob\n"
        "2024-05-01 10:00:00 1234 1 Response: 331 pw\n"
        "2024-05-01 10:00:00 1234 1 Command: PASS ****\n"
        "2024-05-01 10:00:00 1234 1 Response: 534 Policy requires SSL.\n",
        "tls_required",
    ),
}


@pytest.mark.parametrize("client", sorted(FORMATS))
def test_each_clients_log_format(client: str) -> None:
    text, kind = FORMATS[client]
    story = read_story(text)
    assert story.diagnosis is not None and story.diagnosis.kind == kind, story.failed
    assert all(e.kind in ("status", "command", "reply", "error") for e in story.events)


def test_lines_are_read_by_their_client_prefix() -> None:
    events = read_log(
        ["命令: PASV", "響應: 227 Entering Passive Mode (1,2,3,4,5,6)", "錯誤: 連線逾時",
         "> ftp: connect :Connection refused", "ftplib.error_perm: 530 Login incorrect."]
    )  # fmt: skip
    assert [e.kind for e in events] == ["command", "reply", "error", "error", "reply"]
    assert events[1].code == 227 and events[4].code == 530


def test_cli_reads_a_file_and_stdin(tmp_path: Path) -> None:
    path = LOGS / "passive_refused_data.txt"
    by_file = runner.invoke(app, ["explain", "--json", "--lang", "en", "--log", str(path)])
    by_stdin = runner.invoke(
        app, ["explain", "--json", "--lang", "zh-Hant", "--log", "-"], input=path.read_text()
    )
    assert by_file.exit_code == 0 and by_stdin.exit_code == 0
    assert json.loads(by_file.stdout)["kind"] == json.loads(by_stdin.stdout)["kind"]
    assert "資料連線" in json.loads(by_stdin.stdout)["summary"]
    text = runner.invoke(app, ["explain", "--lang", "en", "--log", str(path)])
    assert "Data connection refused" in text.stdout and "13*256+31 = 3359" in text.stdout
    empty = tmp_path / "empty.log"
    empty.write_text("\n")
    assert runner.invoke(app, ["explain", "--log", str(empty)]).exit_code == 1
    assert runner.invoke(app, ["explain", "--log", str(tmp_path / "nope")]).exit_code == 2


def test_a_timeout_after_150_in_passive_mode_is_a_hang_not_a_closed_port() -> None:
    """The 150 says the data connection was made: the passive port is not what is closed."""
    story = read_story((LOGS / "stalled_after_150.txt").read_text("utf-8"))
    en = story.render("en")
    assert en["kind"] == "transfer_stalled"
    assert any("150 Opening BINARY mode" in line and "hangs" in line for line in en["context"])
    assert not any("firewall blocks the passive port range" in c for c in en["context"])
    assert "between the 150 and the 226" in en["advice"]["meaning"]
    assert "传输卡在 150 之后" in " ".join(story.render("zh-Hans")["context"])
    assert story.render("zh-Hant")["advice"]["title"] == "傳輸卡在 150 之後"


def test_a_timeout_after_port_200_is_the_server_unable_to_connect_back() -> None:
    """After "200 PORT command successful" it is the client's side that keeps the server out:
    never "the data port was announced by the server" (PORT is the client's)."""
    story = read_story((LOGS / "active_port_ok_then_timeout.txt").read_text("utf-8"))
    en = story.render("en")
    assert en["kind"] == "active_connect_failed"
    assert any("192.168.1.20 port 2124" in line for line in en["context"])
    assert not any("announced by the server" in line for line in en["context"])
    assert "Use passive mode" in en["advice"]["fixes"][0]
    assert "227" not in " ".join(en["advice"]["causes"] + en["advice"]["fixes"])
    assert "主动模式" in story.render("zh-Hans")["advice"]["title"]


def test_a_chinese_filezilla_log_that_times_out_after_150() -> None:
    """FileZilla's Chinese UI: "20 秒后无活动,连接超时" after the 150 is the same hang."""
    story = read_story((LOGS / "filezilla_zh_stalled.txt").read_text("utf-8"))
    assert story.diagnosis is not None and story.diagnosis.kind == "transfer_stalled"
    assert story.stage == "data" and story.failed is not None and story.failed.number == 12
    assert story.render("zh-Hans")["advice"]["title"] == "传输卡在 150 之后"


@pytest.mark.parametrize("command", ["", "Command: MLSD\n"])
def test_a_150_then_a_timeout_is_never_a_connection_to_the_server_that_timed_out(
    command: str,
) -> None:
    """A 150 says the client is connected and a transfer is under way, even when the log does
    not show its announcement: not "host down or filtered" (the TCP stage)."""
    story = read_story(
        f"{command}Response: 150 Opening BINARY mode data connection for MLSD.\n"
        "Error: Connection timed out after 20 seconds of inactivity"
    )
    assert story.stage == "listing"
    assert story.diagnosis is not None and story.diagnosis.kind == "transfer_stalled"
    [note] = story.render("en")["context"]
    assert "does not show the mode" in note and "active mode (PORT)" in note
