"""RETR, STOR, APPE, STOU, REST, TYPE A conversion, dropped uploads, and LIST/NLST/MLSD/MLST."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import re
import socket
import struct
import time

import pytest

from tests.server.helpers import (
    SMALL_RCVBUF,
    Raw,
    big_download_started,
    code_of,
    data_socket,
    read_until_closed,
    retr_ascii,
    retr_bytes,
    wait_for,
)
from tests.support.live import LiveServer


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_retr_binary(live_any: LiveServer) -> None:
    data = os.urandom(3_000_000) + b"\r\n\n\r\x00"
    (live_any.files / "blob.bin").write_bytes(data)
    ftp = live_any.login()
    assert sha(retr_bytes(ftp, "blob.bin")) == sha(data)


def test_stor_binary(live_any: LiveServer) -> None:
    data = os.urandom(2_500_000) + b"\r\n\n\r"
    ftp = live_any.login()
    reply = ftp.storbinary("STOR up.bin", io.BytesIO(data))
    assert reply.startswith("226 ")
    assert sha((live_any.files / "up.bin").read_bytes()) == sha(data)
    # STOR replaces, it does not append
    ftp.storbinary("STOR up.bin", io.BytesIO(b"short"))
    assert (live_any.files / "up.bin").read_bytes() == b"short"


def test_stor_without_a_data_connection_leaves_the_file_as_it_was(live: LiveServer) -> None:
    (live.files / "kept.txt").write_bytes(b"precious")
    ftp = live.login()
    with pytest.raises(ftplib.error_temp) as info:
        ftp.sendcmd("STOR kept.txt")  # no PASV/PORT first
    assert str(info.value).startswith("425 ")
    assert (live.files / "kept.txt").read_bytes() == b"precious"


def test_list_both_families(live_any: LiveServer) -> None:
    (live_any.files / "f.txt").write_bytes(b"abc")
    (live_any.files / "dir").mkdir()
    ftp = live_any.login()
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 2
    assert lines[0].startswith("d") and lines[0].endswith(" dir")
    assert re.fullmatch(r"-rw-r--r-- +1 ftp +ftp +3 \w{3} \d\d \d\d:\d\d f\.txt", lines[1])


def test_active_mode_both_families(live_any: LiveServer) -> None:
    """PORT on IPv4 and EPRT on IPv6 (ftplib picks by address family)."""
    data = os.urandom(500_000)
    (live_any.files / "a.bin").write_bytes(data)
    ftp = live_any.login()
    ftp.set_pasv(False)
    assert retr_bytes(ftp, "a.bin") == data
    ftp.storbinary("STOR b.bin", io.BytesIO(data[::-1]))
    assert (live_any.files / "b.bin").read_bytes() == data[::-1]
    assert sorted(ftp.nlst()) == ["a.bin", "b.bin"]


def test_150_then_226(live: LiveServer) -> None:
    (live.files / "f.bin").write_bytes(b"x" * 1000)
    ftp = live.login()
    with data_socket(ftp) as conn:
        opening = ftp.sendcmd("RETR f.bin")
        assert opening.startswith("150 ")
        assert "(1000 bytes)" in opening
        assert read_until_closed(conn) == b"x" * 1000
    done = ftp.voidresp()
    assert done.startswith("226 ")
    assert "1000 bytes" in done


def test_retr_refusals(live: LiveServer) -> None:
    (live.files / "d").mkdir()
    ftp = live.login()
    for name in ("missing.bin", "d"):
        with pytest.raises(ftplib.error_perm) as exc:
            retr_bytes(ftp, name)
        assert code_of(exc.value) == 550
    with Raw.to(live) as raw:  # no data channel prepared
        raw.login()
        (live.files / "f").write_bytes(b"f")
        assert raw.cmd("RETR f").code == 425
        assert raw.cmd("NOOP").code == 200


def test_type_a_upload_converts_crlf(live: LiveServer) -> None:
    ftp = live.login()
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("STOR a.txt") as conn:
        conn.sendall(b"a\r\nb\r\n")
    ftp.voidresp()
    assert (live.files / "a.txt").read_bytes() == b"a\nb\n"


def test_type_a_download_converts_lf(live: LiveServer) -> None:
    (live.files / "b.txt").write_bytes(b"a\nb\n")
    ftp = live.login()
    assert retr_ascii(ftp, "b.txt") == b"a\r\nb\r\n"
    ftp.voidcmd("TYPE I")
    assert retr_bytes(ftp, "b.txt") == b"a\nb\n"


def test_type_a_large_across_chunks(live: LiveServer) -> None:
    text = b"".join(b"line %d\n" % i for i in range(300_000))  # > 2 MB: several buffers
    (live.files / "big.txt").write_bytes(text)
    ftp = live.login()
    wire = retr_ascii(ftp, "big.txt")
    assert wire == text.replace(b"\n", b"\r\n")
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("STOR back.txt") as conn:
        for start in range(0, len(wire), 65_537):  # odd sizes split some CRLF pairs
            conn.sendall(wire[start : start + 65_537])
    ftp.voidresp()
    assert sha((live.files / "back.txt").read_bytes()) == sha(text)


def test_rest_resumes_retr(live: LiveServer) -> None:
    data = os.urandom(1_000_000)
    (live.files / "r.bin").write_bytes(data)
    ftp = live.login()
    part = retr_bytes(ftp, "r.bin", rest=None)[:400_000]
    rest = retr_bytes(ftp, "r.bin", rest=len(part))
    assert sha(part + rest) == sha(data)
    assert ftp.sendcmd("REST 0").startswith("350")
    assert retr_bytes(ftp, "r.bin") == data
    # REST is used once
    assert ftp.sendcmd("REST 10").startswith("350")
    assert len(retr_bytes(ftp, "r.bin")) == len(data) - 10
    assert len(retr_bytes(ftp, "r.bin")) == len(data)


def test_rest_beyond_end_is_refused(live: LiveServer) -> None:
    (live.files / "r.bin").write_bytes(b"12345")
    ftp = live.login()
    with pytest.raises(ftplib.error_perm) as exc:
        retr_bytes(ftp, "r.bin", rest=6)
    assert code_of(exc.value) == 501
    assert retr_bytes(ftp, "r.bin", rest=5) == b""


def test_rest_resumes_stor(live: LiveServer) -> None:
    data = os.urandom(1_500_000)
    ftp = live.login()
    ftp.storbinary("STOR s.bin", io.BytesIO(data[:600_000]))
    size = ftp.size("s.bin")
    assert size == 600_000
    ftp.storbinary("STOR s.bin", io.BytesIO(data[size:]), rest=size)
    assert sha((live.files / "s.bin").read_bytes()) == sha(data)


def test_appe(live: LiveServer) -> None:
    ftp = live.login()
    ftp.storbinary("APPE log.txt", io.BytesIO(b"first\n"))  # creates
    ftp.storbinary("APPE log.txt", io.BytesIO(b"second\n"))
    assert (live.files / "log.txt").read_bytes() == b"first\nsecond\n"


def test_stou_picks_unique_names(live: LiveServer) -> None:
    (live.files / "report").write_bytes(b"existing")
    ftp = live.login()
    names = []
    for command, payload in (("STOU", b"one"), ("STOU", b"two"), ("STOU report", b"three")):
        with data_socket(ftp) as conn:
            opening = ftp.sendcmd(command)
            conn.sendall(payload)
        m = re.fullmatch(r"150 FILE: (\S+)", opening)
        assert m, opening
        assert m.group(1) in ftp.voidresp()
        names.append(m.group(1))
    assert names == ["upload", "upload.1", "report.1"]
    assert (live.files / "upload").read_bytes() == b"one"
    assert (live.files / "upload.1").read_bytes() == b"two"
    assert (live.files / "report.1").read_bytes() == b"three"
    assert (live.files / "report").read_bytes() == b"existing"


def test_dropped_upload_keeps_what_arrived(live: LiveServer) -> None:
    sent = os.urandom(300_000)
    ftp = live.login()
    conn = data_socket(ftp)
    try:
        assert ftp.sendcmd("STOR dropped.bin").startswith("150")
        conn.sendall(sent)

        def received_all() -> bool:
            return f"{len(sent)} bytes" in ftp.sendcmd("STAT")

        wait_for(received_all)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        conn.close()  # with SO_LINGER 0 this sends RST
    with pytest.raises(ftplib.error_temp) as exc:
        ftp.voidresp()
    assert code_of(exc.value) == 426
    assert (live.files / "dropped.bin").read_bytes() == sent
    lines = live.settings.xferlog_path.read_text().splitlines()
    assert len(lines) == 1
    fields = lines[0].split()
    assert fields[8] == "/dropped.bin"
    assert fields[7] == str(len(sent))
    assert fields[-1] == "i"
    ftp.storbinary("STOR dropped.bin", io.BytesIO(sent[100:]), rest=100)  # resume works
    assert (live.files / "dropped.bin").read_bytes() == sent


def test_list_formats(live: LiveServer) -> None:
    (live.files / "file.txt").write_bytes(b"12345")
    old = live.files / "old.txt"
    old.write_bytes(b"o")
    os.utime(old, (1_000_000_000, 1_000_000_000))  # 2001: shows the year, not the time
    (live.files / "sub").mkdir()
    os.symlink("file.txt", live.files / "link")
    ftp = live.login()
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    by_name = {line.split()[-1]: line for line in lines}
    assert set(by_name) == {"file.txt", "old.txt", "sub", "link"}
    assert re.fullmatch(
        r"-rw-r--r-- +1 ftp +ftp +5 \w{3} \d\d \d\d:\d\d file\.txt", by_name["file.txt"]
    )
    assert re.fullmatch(r"-\S+ +1 ftp +ftp +1 Sep 09 +2001 old\.txt", by_name["old.txt"])
    assert by_name["sub"].startswith("d")
    listed: list[str] = []
    ftp.retrlines("LIST -la", listed.append)
    assert listed == lines
    one: list[str] = []
    ftp.retrlines("LIST sub", one.append)
    assert one == []


def test_nlst(live: LiveServer) -> None:
    for name in ("b.txt", "a.txt"):
        (live.files / name).write_bytes(b"x")
    (live.files / "d").mkdir()
    (live.files / "d" / "inner").write_bytes(b"x")
    ftp = live.login()
    assert ftp.nlst() == ["a.txt", "b.txt", "d"]
    assert ftp.nlst("d") == ["inner"]
    assert ftp.nlst("a.txt") == ["a.txt"]
    with pytest.raises(ftplib.error_perm) as exc:
        ftp.nlst("missing")
    assert code_of(exc.value) == 550


def _facts(line: str) -> tuple[dict[str, str], str]:
    facts, name = line.split(" ", 1)
    return dict(item.split("=", 1) for item in facts.rstrip(";").split(";")), name


def test_mlsd_and_mlst_facts(live: LiveServer) -> None:
    path = live.files / "f.bin"
    path.write_bytes(b"x" * 42)
    os.chmod(path, 0o640)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    (live.files / "sub").mkdir()
    ftp = live.login()
    lines: list[str] = []
    ftp.retrlines("MLSD", lines.append)
    entries = dict(_facts(line)[::-1] for line in lines)
    assert set(entries) == {"f.bin", "sub"}
    f = entries["f.bin"]
    st = os.stat(path)
    assert f["type"] == "file"
    assert f["size"] == "42"
    assert f["modify"] == time.strftime("%Y%m%d%H%M%S", time.gmtime(1_600_000_000))
    assert f["unix.mode"] == "0640"
    assert f["unique"] == f"{st.st_dev:x}g{st.st_ino:x}"
    assert set(f["perm"]) == set("rwadf")
    d = entries["sub"]
    assert d["type"] == "dir"
    assert set("elcmpdf") <= set(d["perm"])
    assert entries["f.bin"]["unique"] != d["unique"]
    reply = ftp.sendcmd("MLST f.bin")
    body = reply.splitlines()
    assert body[0] == "250-Listing /f.bin"
    assert body[-1] == "250 End"
    facts, name = _facts(body[1][1:])
    assert name == "/f.bin"
    assert facts == f
    dir_facts, _ = _facts(ftp.sendcmd("MLST").splitlines()[1][1:])
    assert dir_facts["type"] == "dir"
    with pytest.raises(ftplib.error_perm) as exc:
        ftp.retrlines("MLSD f.bin", lines.append)
    assert code_of(exc.value) == 550
    with pytest.raises(ftplib.error_perm) as exc:
        ftp.sendcmd("MLST missing")
    assert code_of(exc.value) == 550


def test_mlsd_through_ftplib(live: LiveServer) -> None:
    (live.files / "x.txt").write_bytes(b"xyz")
    ftp = live.login()
    found = dict(ftp.mlsd(facts=["type", "size"]))
    assert found["x.txt"]["type"] == "file"
    assert found["x.txt"]["size"] == "3"


def test_listing_of_empty_directory(live: LiveServer) -> None:
    ftp = live.login()
    lines: list[str] = []
    assert ftp.retrlines("LIST", lines.append).startswith("226")
    assert lines == []
    assert ftp.nlst() == []


def test_client_dropping_a_download(live: LiveServer) -> None:
    ftp, conn = big_download_started(live)
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        conn.close()
    with pytest.raises(ftplib.error_temp) as exc:
        ftp.voidresp()
    assert code_of(exc.value) == 426
    assert live.settings.xferlog_path.read_text().split()[-1] == "i"
    assert ftp.sendcmd("NOOP").startswith("200")


def test_quit_waits_for_the_transfer(live: LiveServer) -> None:
    data = os.urandom(8 * 1024 * 1024)
    (live.files / "q.bin").write_bytes(data)
    ftp = live.login()
    conn = data_socket(ftp, rcvbuf=SMALL_RCVBUF)
    try:
        assert ftp.sendcmd("RETR q.bin").startswith("150")
        first = conn.recv(65536)
        ftp.putcmd("QUIT")
        rest = read_until_closed(conn, timeout=30)
    finally:
        conn.close()
    assert sha(first + rest) == sha(data)
    assert ftp.getresp().startswith("226")
    assert ftp.getresp().startswith("221")


def test_store_refusals(live: LiveServer) -> None:
    (live.files / "adir").mkdir()
    ftp = live.login()
    for name in ("adir", "no/such/dir/f.txt", "/"):
        with pytest.raises(ftplib.error_perm) as exc:
            ftp.storbinary(f"STOR {name}", io.BytesIO(b"x"))
        assert code_of(exc.value) == 550, name
    assert sorted(p.name for p in live.files.iterdir()) == ["adir"]


def test_special_files_are_refused_without_hanging(live: LiveServer) -> None:
    os.mkfifo(live.files / "fifo")
    with Raw.to(live) as raw:
        raw.login()
        for line in ("RETR fifo", "STOR fifo", "APPE fifo", "HASH fifo"):
            assert raw.cmd("EPSV").code == 229
            reply = raw.cmd(line)
            assert reply.code == 550, (line, reply)
        assert raw.cmd("NOOP").code == 200


@pytest.mark.parametrize("type_", ["I", "A"], ids=["sendfile", "read-and-send"])
def test_a_file_cut_during_its_download_is_a_451_not_a_226(live: LiveServer, type_: str) -> None:
    """Another program truncates the file while it goes out: the client got less than the 150
    announced, so the reply says so (curl checks the size; ftplib and many clients do not)."""
    size = 48 * 1024 * 1024  # far more than the socket buffers: the server cannot be done yet
    target = live.files / "growing-log.bin"
    target.write_bytes(b"x" * size)
    ftp = live.login()
    ftp.sendcmd(f"TYPE {type_}")
    conn = ftp.transfercmd("RETR growing-log.bin")
    try:
        got = len(conn.recv(65536))
        os.truncate(target, 1024 * 1024)
        while chunk := conn.recv(1 << 20):
            got += len(chunk)
    finally:
        conn.close()
    reply = ftp.getline()
    assert reply.startswith("451 growing-log.bin became shorter while it was being sent"), reply
    assert f"{size} bytes were due" in reply
    assert reply.endswith(f"Transfer stopped after {got} bytes.")
    assert got < size
    assert ftp.sendcmd("NOOP").startswith("200")
