"""server.legacy_encoding: clients that send names in GBK (ftplib encoding="gbk", lftp with
ftp:charset gbk) are answered in it; names on disk stay UTF-8; UTF-8 clients are unaffected."""

from __future__ import annotations

import ftplib
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.config import ConfigError, load_settings
from tests.interop.helpers import require
from tests.support.live import PASSWORD, USER, LiveServer, start_server

pytestmark = pytest.mark.interop


@pytest.fixture
def gbk_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", server={"legacy_encoding": "gb18030"})
    yield live
    live.stop()


def legacy_client(live: LiveServer, encoding: str = "gbk") -> ftplib.FTP:
    ftp = ftplib.FTP(timeout=10, encoding=encoding)
    ftp.connect(live.host, live.port)
    live.clients.append(ftp)
    ftp.login(USER, PASSWORD)
    return ftp


def test_gbk_client_names_are_chinese_on_disk_and_in_its_listings(gbk_server: LiveServer) -> None:
    ftp = legacy_client(gbk_server)
    assert ftp.mkd("中文目录") == "/中文目录"  # the 257 reply, read back in GBK
    ftp.cwd("中文目录")
    assert ftp.pwd() == "/中文目录"
    ftp.storbinary("STOR 报告.txt", io.BytesIO(b"hello"))
    assert (gbk_server.files / "中文目录" / "报告.txt").read_bytes() == b"hello"
    assert ftp.nlst() == ["报告.txt"]
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    assert lines[0].endswith(" 报告.txt")
    got = io.BytesIO()
    ftp.retrbinary("RETR 报告.txt", got.write)
    assert got.getvalue() == b"hello"
    ftp.rename("报告.txt", "总结.txt")
    assert sorted(p.name for p in (gbk_server.files / "中文目录").iterdir()) == ["总结.txt"]
    assert "总结.txt" in ftp.sendcmd("STAT 总结.txt")
    with pytest.raises(ftplib.error_perm, match=r"总结\.txt"):
        ftp.cwd("总结.txt")  # a refusal names the path in GBK
    facts = dict(ftp.mlsd())
    assert list(facts) == ["总结.txt"]


def test_utf8_clients_see_the_same_names(gbk_server: LiveServer) -> None:
    legacy_client(gbk_server).mkd("中文")
    utf8 = gbk_server.login()  # ftplib's default: UTF-8, no OPTS UTF8
    assert utf8.nlst() == ["中文"]
    utf8.mkd("文档")
    assert sorted(p.name for p in gbk_server.files.iterdir()) == ["中文", "文档"]
    curl = require("curl")
    out = subprocess.run(
        [curl, "-s", "--list-only", "-u", f"{USER}:{PASSWORD}",
         f"ftp://{gbk_server.host}:{gbk_server.port}/"],
        capture_output=True, timeout=30, check=True, stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip
    assert sorted(out.decode("utf-8").split()) == ["中文", "文档"]


def test_a_legacy_session_stays_legacy_and_opts_utf8_on_keeps_utf8(gbk_server: LiveServer) -> None:
    (gbk_server.files / "中文").mkdir()
    ftp = legacy_client(gbk_server)
    ftp.sendcmd("CWD 中文")  # its first non-ASCII line: the session speaks GBK from now on
    ftp.cwd("/")
    assert ftp.nlst() == ["中文"]  # an ASCII-only command after it: still answered in GBK
    assert " File names: GB18030" in ftp.sendcmd("STAT").splitlines()
    utf8 = gbk_server.login()
    assert " File names: UTF-8" in utf8.sendcmd("STAT").splitlines()
    assert utf8.sendcmd("OPTS UTF8 ON").startswith("200")
    utf8.mkd("文档")  # a UTF-8 line: nothing to detect
    assert sorted(utf8.nlst()) == ["中文", "文档"]
    assert utf8.sendcmd("OPTS UTF8 OFF").startswith("200")  # asks for the legacy encoding
    utf8.encoding = "gbk"
    assert sorted(utf8.nlst()) == ["中文", "文档"]


def test_a_name_gbk_cannot_say_is_shown_with_question_marks(tmp_path: Path) -> None:
    live = start_server(tmp_path / "data", server={"legacy_encoding": "gbk"})
    try:
        (live.files / "中文").mkdir()
        (live.files / "smile 😀.txt").write_bytes(b"")
        ftp = legacy_client(live)
        ftp.sendcmd("CWD 中文")
        ftp.cwd("/")
        assert sorted(ftp.nlst()) == ["smile ?.txt", "中文"]  # the listing is whole
        assert ftp.voidcmd("NOOP").startswith("200")
    finally:
        live.stop()


def test_mode_default_serves_sessions_without_opts_utf8_in_the_legacy_encoding(
    tmp_path: Path,
) -> None:
    live = start_server(
        tmp_path / "data", server={"legacy_encoding": "gbk", "legacy_encoding_mode": "default"}
    )
    try:
        (live.files / "中文").mkdir()
        assert legacy_client(live).nlst() == ["中文"]  # before it sent any name
    finally:
        live.stop()


def lftp(live: LiveServer, commands: str, cwd: Path) -> str:
    binary = require("lftp")
    script = (
        "set ftp:passive-mode on; set net:max-retries 1; set net:timeout 10; "
        "set cmd:fail-exit yes; set ftp:ssl-allow no; set file:charset utf-8; "
        f"{commands}; bye"
    )
    done = subprocess.run(
        [binary, "-e", script, "-u", f"{USER},{PASSWORD}", f"ftp://{live.host}:{live.port}"],
        cwd=cwd, capture_output=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, output
    return output


def test_lftp_with_charset_gbk(gbk_server: LiveServer, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "报告.txt").write_bytes(b"report")
    # lftp 4.9 ignores ftp:charset once FEAT lists UTF8 and LANG (OPTS UTF8 ON, or a LANG that
    # worked, turns UTF-8 on): without FEAT it speaks GBK
    gbk = "set ftp:use-feat no; set ftp:charset gbk"
    out = lftp(gbk_server, f"{gbk}; mkdir 中文; cd 中文; put 报告.txt; cls -1", local)
    assert "报告.txt" in out
    assert (gbk_server.files / "中文" / "报告.txt").read_bytes() == b"report"
    (local / "报告.txt").unlink()
    lftp(gbk_server, f"{gbk}; cd 中文; get 报告.txt", local)
    assert (local / "报告.txt").read_bytes() == b"report"
    out = lftp(gbk_server, "set ftp:charset utf-8; cls -1 中文", local)  # lftp's default
    assert "报告.txt" in out


@pytest.mark.parametrize(
    ("value", "reason"),
    [("utf-16", "does not keep ASCII"), ("no-such-code", "unknown encoding"), ("rot13", "ASCII")],
)
def test_an_encoding_that_cannot_carry_ftp_commands_stops_the_start(
    value: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=f"server.legacy_encoding.*{reason}"):
        load_settings(None, {"server": {"legacy_encoding": value}}, environ={})
