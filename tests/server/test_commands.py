"""Information and settings commands: SYST, NOOP, FEAT, OPTS, HELP, TYPE, MODE, STRU, ALLO,
SMNT, STAT, and the replies to unknown commands and bad arguments."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from tests.server.helpers import Raw
from tests.support.live import LiveServer

ALL_VERBS = {
    *("ABOR", "ACCT", "ALLO", "APPE", "CDUP", "CWD", "DELE", "HELP", "LIST", "MODE", "MKD"),
    *("NLST", "NOOP", "PASS", "PASV", "PORT", "PWD", "QUIT", "REIN", "REST", "RETR", "RMD"),
    *("RNFR", "RNTO", "SITE", "SMNT", "STAT", "STOR", "STOU", "STRU", "SYST", "TYPE", "USER"),
    *("FEAT", "OPTS", "SIZE", "MDTM", "MFMT", "MLSD", "MLST", "EPSV", "EPRT", "HOST", "HASH"),
    *("XCWD", "XPWD", "XMKD", "XRMD", "XCUP"),
}


@pytest.fixture
def raw(live: LiveServer) -> Iterator[Raw]:
    with Raw.to(live) as conn:
        conn.login()
        yield conn


def test_syst_and_noop(raw: Raw) -> None:
    syst = raw.cmd("SYST")
    assert (syst.code, syst.text) == (215, "UNIX Type: L8")
    assert raw.cmd("NOOP").code == 200
    assert raw.cmd("NOOP now").code == 501


def test_feat_lists_extensions(raw: Raw) -> None:
    reply = raw.cmd("FEAT")
    assert reply.code == 211
    assert len(reply.lines) > 2
    assert reply.lines[0] == "Features:"
    assert reply.lines[-1] == "End"
    body = reply.lines[1:-1]
    assert all(line.startswith(" ") for line in body)
    features = {line.strip().split(" ")[0]: line.strip() for line in body}
    for name in ("EPRT", "EPSV", "MDTM", "MFMT", "SIZE", "UTF8", "HOST", "REST", "MLST", "HASH"):
        assert name in features, name
    assert features["REST"] == "REST STREAM"
    assert features["HASH"] == "HASH SHA-256*;SHA-1;MD5;CRC32"
    mlst = features["MLST"]
    for fact in ("type*", "size*", "modify*", "perm*", "unique*", "unix.mode*"):
        assert fact + ";" in mlst


def test_opts_utf8(raw: Raw) -> None:
    assert raw.cmd("OPTS UTF8 ON").code == 200
    assert raw.cmd("OPTS utf8 on").code == 200
    assert raw.cmd("OPTS UTF8 OFF").code == 504
    junk = raw.cmd("OPTS UTF8 junk")  # not "cannot be turned off": it was not asked to
    assert junk.code == 501
    assert junk.text == "OPTS UTF8 takes ON or OFF, not junk."  # OFF: see legacy_encoding
    assert raw.cmd("OPTS").code == 501
    assert raw.cmd("OPTS BOGUS 1").code == 501


def test_opts_mlst_selects_facts(live: LiveServer, raw: Raw) -> None:
    (live.files / "f.txt").write_bytes(b"12345")
    reply = raw.cmd("OPTS MLST type;size;")
    assert (reply.code, reply.text) == (200, "MLST OPTS type;size;")
    feat = raw.cmd("FEAT")
    mlst = next(line for line in feat.lines if line.startswith(" MLST"))
    assert mlst == " MLST type*;size*;modify;perm;unique;unix.mode;"
    listing = raw.cmd("MLST f.txt")
    assert listing.code == 250
    assert listing.lines[1] == " type=file;size=5; /f.txt"
    # unknown facts are ignored, an empty list selects none
    assert raw.cmd("OPTS MLST bogus;").text == "MLST OPTS "
    assert raw.cmd("MLST f.txt").lines[1] == "  /f.txt"
    assert raw.cmd("OPTS MLST type;size;modify;perm;unique;unix.mode;").code == 200
    assert "unix.mode=0" in raw.cmd("MLST f.txt").lines[1]


def test_help_lists_every_command(raw: Raw) -> None:
    reply = raw.cmd("HELP")
    assert reply.code == 214
    assert len(reply.lines) > 3
    listed = set(" ".join(reply.lines[1:-1]).split())
    missing = [verb for verb in ALL_VERBS if verb not in listed]
    assert not missing


def test_help_on_one_command(raw: Raw) -> None:
    reply = raw.cmd("HELP retr")
    assert reply.code == 214
    assert reply.text.startswith("Syntax: RETR")
    assert raw.cmd("HELP XMKD").text.startswith("Syntax: XMKD")
    assert raw.cmd("HELP BOGUS").code == 501


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("TYPE A", 200),
        ("TYPE A N", 200),
        ("TYPE I", 200),
        ("TYPE L 8", 200),
        ("type i", 200),
        ("TYPE E", 504),
        ("TYPE A T", 504),
        ("TYPE L 7", 504),
        ("TYPE X", 501),
        ("TYPE", 501),
        ("MODE S", 200),
        ("MODE B", 200),
        ("MODE C", 504),
        ("MODE Z", 200),
        ("MODE X", 501),
        ("MODE", 501),
        ("STRU F", 200),
        ("STRU R", 504),
        ("STRU P", 504),
        ("STRU Q", 501),
        ("STRU", 501),
        ("ALLO 1000", 202),
        ("ALLO 1000 R 10", 202),
        ("ALLO", 501),
        ("SMNT /mnt", 502),
        ("SMNT", 501),
    ],
)
def test_settings_replies(raw: Raw, line: str, code: int) -> None:
    reply = raw.cmd(line)
    assert reply.code == code, reply
    assert raw.cmd("NOOP").code == 200


def test_type_changes_what_stat_reports(raw: Raw) -> None:
    assert raw.cmd("TYPE A").text == "Type set to A."
    assert "TYPE: ASCII" in raw.cmd("STAT").text
    assert raw.cmd("TYPE E").code == 504
    assert "TYPE: ASCII" in raw.cmd("STAT").text  # a refused TYPE changes nothing
    assert raw.cmd("TYPE I").text == "Type set to I."
    assert "TYPE: BINARY" in raw.cmd("STAT").text


def test_stat_reports_the_session(live: LiveServer, raw: Raw) -> None:
    raw.cmd("CWD /")
    reply = raw.cmd("STAT")
    assert reply.code == 211
    assert len(reply.lines) >= 4
    text = reply.text
    assert f"port {live.port} from 127.0.0.1" in text
    assert "Logged in as alice" in text
    assert "Working directory: /" in text
    assert "Data connection: none" in text
    assert reply.lines[-1] == "End of status."
    assert raw.cmd("PASV").code == 227
    assert "Data connection: passive, port" in raw.cmd("STAT").text


def test_stat_before_login(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        reply = raw.cmd("STAT")
        assert reply.code == 211
        assert "Not logged in" in reply.text
        assert raw.cmd("STAT /").code == 530


def test_stat_with_path_lists_on_control_connection(live: LiveServer, raw: Raw) -> None:
    (live.files / "one.txt").write_bytes(b"1")
    (live.files / "two.bin").write_bytes(b"22")
    (live.files / "sub").mkdir()
    reply = raw.cmd("STAT /")
    assert reply.code == 213
    assert reply.lines[0] == "Status of /:"
    assert reply.lines[-1] == "End of status."
    entries = reply.lines[1:-1]
    assert [line.split()[-1] for line in entries] == ["one.txt", "sub", "two.bin"]
    assert entries[1].startswith("d")
    assert re.match(r"-rw.*\s2 \w{3} \d\d .* two\.bin$", entries[2])
    single = raw.cmd("STAT one.txt")
    assert single.code == 213
    assert single.lines[1].endswith(" one.txt")
    assert raw.cmd("STAT -la /").lines[1:-1] == entries
    assert raw.cmd("STAT missing").code == 550


def test_unknown_commands_are_500(raw: Raw) -> None:
    for line in ("FOO", "XYZZY bar", "RETRIEVE x", "SITEX"):
        reply = raw.cmd(line)
        assert reply.code == 500, line
    assert raw.cmd("PWD").code == 257


@pytest.mark.parametrize(
    "line",
    [
        "CWD",
        "MKD",
        "DELE",
        "RETR",
        "STOR",
        "SITE",
        "PORT 1,2,3",
        "PORT a,b,c,d,e,f",
        "PORT 127,0,0,1,300,1",
        "EPRT",
        "EPRT |1|not-an-ip|5000|",
        "EPRT |1|127.0.0.1|99999|",
        "REST abc",
        "REST -5",
        "MFMT 2020 f",
        "MFMT nodate f",
        "PWD x",
        "PASV x",
        "CDUP x",
        "SYST x",
        "FEAT x",
        "EPSV x",
        "SITE BOGUS",
        "SITE CHMOD",
        "SITE CHMOD 999 f",
        "OPTS HASH WHIRLPOOL",
    ],
)
def test_bad_arguments_are_501(raw: Raw, line: str) -> None:
    reply = raw.cmd(line)
    assert reply.code == 501, (line, reply)
    assert raw.cmd("NOOP").code == 200


def test_eprt_unknown_protocol_is_522(raw: Raw) -> None:
    reply = raw.cmd("EPRT |3|127.0.0.1|5000|")
    assert reply.code == 522
    assert "(1,2)" in reply.text


def test_multi_line_replies_are_well_formed(live: LiveServer) -> None:
    """Raw.reply checks framing; here also check the raw bytes of a long reply (RFC 959)."""
    with Raw.to(live) as raw:
        raw.login()
        raw.send(b"HELP\r\n")
        wire = b""
        raw.sock.settimeout(5)
        while not re.search(rb"(^|\r\n)214 [^\r\n]*\r\n$", wire):
            chunk = raw.sock.recv(4096)
            assert chunk, wire
            wire += chunk
        lines = wire.split(b"\r\n")[:-1]
        assert lines[0].startswith(b"214-")
        assert lines[-1].startswith(b"214 ")
        assert not any(line.startswith(b"214 ") for line in lines[:-1])
        for line in ("FEAT", "STAT", "SITE HELP", "MLST /", "STAT /"):
            reply = raw.cmd(line)
            assert len(reply.lines) > 1, line
        assert raw.cmd("NOOP").code == 200


def test_stat_counts_transfers(live: LiveServer) -> None:
    (live.files / "d.txt").write_bytes(b"abc")
    ftp = live.login()
    ftp.storbinary("STOR u.txt", io.BytesIO(b"12345"))
    ftp.retrbinary("RETR d.txt", lambda chunk: None)
    status = ftp.sendcmd("STAT")
    assert "1 files (5 bytes) uploaded, 1 files (3 bytes) downloaded" in status


def test_names_with_line_breaks_cannot_forge_replies(live: LiveServer, raw: Raw) -> None:
    """A file name holding CR/LF and a reply code is shown, but cannot end the reply early."""
    (live.files / "x\r\n226 fake\n213 End of status.").write_bytes(b"x")
    reply = raw.cmd("STAT /")
    assert reply.code == 213
    assert reply.lines[-1] == "End of status."
    assert any("226 fake" in line for line in reply.lines)
    assert raw.cmd("NOOP").code == 200  # nothing left over from the STAT reply
    assert raw.quiet_for(0.05)
