"""A client's text never breaks a log line (blanks in xferlog names) nor repeats a password."""

from __future__ import annotations

import io
import logging

import pytest

from pasv.admin.history import Search, parse_line, search
from pasv.server.xferlog import field
from tests.server.helpers import Raw
from tests.server.test_logs import XFERLOG, everything_logged
from tests.support.live import USER, LiveServer

# names an FTP line may carry (no CR, LF or NUL): whitespace str.split() splits on, line breaks
# str.splitlines() knows, a control character, and the ideographic space of CJK names
ODD_NAMES = {
    "tab\tname": "/tab_name",
    "vt\x0bname": "/vt_name",
    "ff\x0cname": "/ff_name",
    "nel\x85name": "/nel_name",
    "ls\u2028name": "/ls_name",
    "nbsp\xa0name": "/nbsp_name",
    "bell\x07name": "/bell_name",
    "報告\u3000書.txt": "/報告_書.txt",
}


def test_xferlog_names_with_blanks_and_line_breaks_stay_one_field(live: LiveServer) -> None:
    ftp = live.login()
    ftp.encoding = "utf-8"
    for name in ODD_NAMES:
        ftp.storbinary(f"STOR {name}", io.BytesIO(b"x"))
    ftp.quit()
    text = live.settings.xferlog_path.read_text(encoding="utf-8")
    lines = text.splitlines()  # every line break Python knows, not just \n
    assert len(lines) == len(ODD_NAMES)
    names = []
    for line in lines:
        m = XFERLOG.fullmatch(line)
        assert m, f"not an xferlog line: {line!r}"
        names.append(m["name"])
        record = parse_line(line)  # the admin API's history reads it back
        assert record is not None and record.user == USER
    assert names == list(ODD_NAMES.values())
    # the history search finds a name as the client spelled it
    found = search(live.settings.xferlog_path, Search(path="報告\u3000書"))
    assert [r.path for r in found] == ["/報告_書.txt"]


@pytest.mark.parametrize("line", ["PASS\tHunter2-secret", "pass\x01Hunter2-secret"])
def test_malformed_pass_line_repeats_no_password(
    live: LiveServer, caplog: pytest.LogCaptureFixture, line: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="pasv")
    with Raw.to(live) as raw:
        assert raw.cmd(f"USER {USER}").code == 331
        raw.send(f"{line}\r\n".encode())
        reply = raw.reply()
    assert reply.code == 500
    assert "Hunter2" not in str(reply.text)
    assert reply.text.startswith("Syntax error, command unrecognized: ")
    assert "Hunter2" not in everything_logged(caplog)


def test_xferlog_field_covers_every_blank_and_line_break() -> None:
    missed = [
        hex(c)
        for c in range(0x110000)
        if (chr(c).isspace() or len(f"a{chr(c)}b".splitlines()) > 1) and field(chr(c)) != "_"
    ]
    assert missed == []


def test_a_control_character_in_an_argument_is_escaped_in_the_debug_log(
    live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    # a CR inside the line (only the last one ends it) would return the terminal's cursor and
    # let the rest overwrite the line's "[id] address Command:" prefix; an ESC could recolour it
    caplog.set_level(logging.DEBUG, logger="pasv")
    with Raw.to(live) as raw:
        raw.send(b"USER bob\rFORGED \x1b[2J\r\n")
        assert raw.reply().code == 331
    logged = [r.getMessage() for r in caplog.records if "Command: USER" in r.getMessage()]
    assert logged and all("\r" not in m and "\x1b" not in m for m in logged), logged
    assert any(m.endswith("Command: USER bob\\rFORGED \\x1b[2J") for m in logged), logged
