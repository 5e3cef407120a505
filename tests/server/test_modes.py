"""MODE Z (deflate) and MODE B (blocks, restart markers) with ftplib: replies, transfers, ends.

The 226 rules of plain transfers hold here too: a deflate stream that does not end, or a MODE B
upload without its EOF block, is answered 426, and the session goes on.
"""

from __future__ import annotations

import ftplib
import hashlib
import ssl
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasv.protocol import blockmode
from pasv.protocol.blockmode import BlockDecoder, Data, End, Marker
from tests.support.ftps import ftps_login
from tests.support.live import LiveServer, start_server

TEXT = b"".join(
    b"line %06d: the quick brown fox jumps over the lazy dog\n" % i for i in range(20000)
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(ftp: ftplib.FTP, command: str, rest: int | str | None = None) -> bytes:
    conn = ftp.transfercmd(command, rest)
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()
    conn.close()
    ftp.voidresp()
    return b"".join(chunks)


def push(ftp: ftplib.FTP, command: str, raw: bytes, rest: int | str | None = None) -> str:
    """Send ``raw`` as the upload's data connection bytes; the final reply (any code)."""
    conn = ftp.transfercmd(command, rest)
    conn.sendall(raw)
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()  # a clean TLS end: only the mode's own end can be missing
    conn.close()
    try:
        return ftp.voidresp()
    except ftplib.Error as exc:
        return str(exc)


def blocks(*parts: bytes | str, eof: bool = True) -> bytes:
    """A MODE B stream: bytes become data blocks, str a restart marker."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(blockmode.encode_marker(part))
        else:
            out.extend(bytes(p) for p in blockmode.encode_data(part))
    if eof:
        out.append(blockmode.encode_eof())
    return b"".join(out)


def unblock(raw: bytes) -> tuple[bytes, list[str], bool]:
    decoder = BlockDecoder()
    events = decoder.feed(raw)
    data = b"".join(e.data for e in events if isinstance(e, Data))
    return data, [e.marker for e in events if isinstance(e, Marker)], isinstance(events[-1], End)


@pytest.fixture
def text_file(live: LiveServer) -> bytes:
    (live.files / "text.txt").write_bytes(TEXT)
    return TEXT


# --- the commands ---------------------------------------------------------------------------


def test_feat_lists_mode_z_and_mode_switches_back_and_forth(live: LiveServer) -> None:
    ftp = live.login()
    assert " MODE Z" in ftp.sendcmd("FEAT").splitlines()
    assert ftp.sendcmd("MODE Z") == "200 Mode set to Z (deflate, level 1)."
    assert ftp.sendcmd("MODE B") == "200 Mode set to B (blocks with restart markers)."
    assert ftp.sendcmd("MODE S") == "200 Mode set to S."
    assert "MODE: Stream" in ftp.sendcmd("STAT")


def test_mode_c_is_refused_with_the_reason(live: LiveServer) -> None:
    ftp = live.login()
    with pytest.raises(ftplib.error_perm, match=r"504 MODE C .*not supported.*MODE Z"):
        ftp.sendcmd("MODE C")
    with pytest.raises(ftplib.error_perm, match="501 Unknown MODE X"):
        ftp.sendcmd("MODE X")


def test_opts_mode_z_level(live: LiveServer, text_file: bytes) -> None:
    ftp = live.login()
    assert ftp.sendcmd("OPTS MODE Z LEVEL 0") == "200 MODE Z LEVEL set to 0."
    assert ftp.sendcmd("OPTS MODE Z") == "200 MODE Z LEVEL 0"
    ftp.sendcmd("MODE Z")
    stored = fetch(ftp, "RETR text.txt")
    assert zlib.decompress(stored) == TEXT
    assert len(stored) > len(TEXT)  # level 0: deflate's stored blocks, no compression
    ftp.sendcmd("OPTS MODE Z LEVEL 9")
    packed = fetch(ftp, "RETR text.txt")
    assert zlib.decompress(packed) == TEXT
    assert len(packed) < len(TEXT) // 5
    for bad, reason in (("LEVEL 10", "0 to 9"), ("LEVEL x", "0 to 9"), ("ENGINE gzip", "LEVEL")):
        with pytest.raises(ftplib.error_perm, match=f"501 .*{reason}"):
            ftp.sendcmd(f"OPTS MODE Z {bad}")
    with pytest.raises(ftplib.error_perm, match="501 OPTS MODE takes Z"):
        ftp.sendcmd("OPTS MODE B")


def test_modes_can_be_turned_off(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", modes={"deflate": False, "block": False})
    try:
        ftp = server.login()
        assert " MODE Z" not in ftp.sendcmd("FEAT").splitlines()
        for mode in ("Z", "B"):
            with pytest.raises(ftplib.error_perm, match=f"504 MODE {mode} is turned off"):
                ftp.sendcmd(f"MODE {mode}")
        with pytest.raises(ftplib.error_perm, match="504 MODE Z is turned off"):
            ftp.sendcmd("OPTS MODE Z LEVEL 1")
        assert ftp.sendcmd("MODE S").startswith("200")
    finally:
        server.stop()


# --- MODE Z ---------------------------------------------------------------------------------


def test_mode_z_download_upload_and_listing(live: LiveServer, text_file: bytes) -> None:
    ftp = live.login()
    ftp.sendcmd("MODE Z")
    packed = fetch(ftp, "RETR text.txt")
    assert sha(zlib.decompress(packed)) == sha(TEXT)
    assert len(packed) < len(TEXT) // 5
    assert push(ftp, "STOR up.txt", zlib.compress(TEXT)).startswith("226 ")
    assert sha((live.files / "up.txt").read_bytes()) == sha(TEXT)
    listing = zlib.decompress(fetch(ftp, "LIST"))
    assert b"text.txt" in listing and b"up.txt" in listing
    names = zlib.decompress(fetch(ftp, "NLST")).split(b"\r\n")
    assert b"up.txt" in names
    ftp.sendcmd("MODE S")  # stream mode again: the file's own bytes
    assert fetch(ftp, "RETR up.txt") == TEXT


def test_rest_offsets_are_into_the_uncompressed_file(live: LiveServer, text_file: bytes) -> None:
    ftp = live.login()
    ftp.sendcmd("MODE Z")
    assert zlib.decompress(fetch(ftp, "RETR text.txt", rest=123457)) == TEXT[123457:]
    (live.files / "part.txt").write_bytes(TEXT[:50000])
    assert push(ftp, "STOR part.txt", zlib.compress(TEXT[50000:]), rest=50000).startswith("226")
    assert sha((live.files / "part.txt").read_bytes()) == sha(TEXT)


def test_mode_z_under_tls_compresses_then_encrypts(live: LiveServer, text_file: bytes) -> None:
    ftp = ftps_login(live)
    ftp.sendcmd("MODE Z")
    packed = fetch(ftp, "RETR text.txt")
    assert zlib.decompress(packed) == TEXT and len(packed) < len(TEXT) // 5
    assert push(ftp, "STOR tls.txt", zlib.compress(TEXT)).startswith("226 ")
    assert sha((live.files / "tls.txt").read_bytes()) == sha(TEXT)
    cut = zlib.compress(TEXT)[:-20]
    reply = push(ftp, "STOR cut.txt", cut)  # close_notify sent, but the deflate stream unfinished
    assert reply.startswith("426 ") and "compressed" in reply
    assert ftp.sendcmd("NOOP").startswith("200")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (zlib.compress(TEXT)[:-9], "ended before the end of the compressed"),
        (b"this is not deflate", "Corrupt compressed"),
        (zlib.compress(b"abc") + b"junk", "after the end of the compressed stream"),
        (b"", "ended before the end of the compressed"),
    ],
    ids=["truncated", "corrupt", "trailing-bytes", "empty"],
)
def test_a_deflate_stream_that_does_not_end_cleanly_is_never_226(
    live: LiveServer, raw: bytes, reason: str
) -> None:
    ftp = live.login()
    ftp.sendcmd("MODE Z")
    reply = push(ftp, "STOR bad.txt", raw)
    assert reply.startswith("426 "), reply
    assert reason in reply
    assert ftp.sendcmd("NOOP").startswith("200")  # the session goes on


# --- MODE B ---------------------------------------------------------------------------------


def test_stor_markers_are_answered_with_rfc_959s_110_text(live: LiveServer) -> None:
    ftp = live.login()
    ftp.sendcmd("MODE B")
    conn = ftp.transfercmd("STOR marked.bin")
    conn.sendall(blocks(b"a" * 100, "c100", b"b" * 50, "c150"))
    conn.close()
    assert ftp.getline() == "110 MARK c100 = 100"
    assert ftp.getline() == "110 MARK c150 = 150"
    assert ftp.voidresp().startswith("226 ")
    assert (live.files / "marked.bin").read_bytes() == b"a" * 100 + b"b" * 50
    # resumed at the server's marker 100: the server's positions count from there
    conn = ftp.transfercmd("STOR marked.bin", rest=100)
    conn.sendall(blocks(b"B" * 25, "x125"))
    conn.close()
    assert ftp.getline() == "110 MARK x125 = 125"
    assert ftp.voidresp().startswith("226 ")
    assert (live.files / "marked.bin").read_bytes() == b"a" * 100 + b"B" * 25  # ends there


@pytest.fixture
def marking(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data", modes={"marker_interval": 1000})
    yield server
    server.stop()


def test_retr_embeds_markers_and_rest_resumes_from_one(marking: LiveServer) -> None:
    body = bytes(range(256)) * 14  # 3584 bytes
    (marking.files / "f.bin").write_bytes(body)
    ftp = marking.login()
    ftp.sendcmd("MODE B")
    data, markers, ended = unblock(fetch(ftp, "RETR f.bin"))
    assert (data, markers, ended) == (body, ["1000", "2000", "3000"], True)
    data, markers, ended = unblock(fetch(ftp, "RETR f.bin", rest="2000"))
    assert (data, markers, ended) == (body[2000:], ["3000"], True)
    data, markers, ended = unblock(fetch(ftp, "LIST"))
    assert b"f.bin" in data and ended


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (blocks(b"abc", eof=False), "without the EOF block"),
        (b"\x00\x00\x10abc", "inside a block"),
        (b"\x03\x00\x01x" + blockmode.encode_eof(), "unknown block descriptor 3"),
        (b"\x10\x00\x02 x", "unprintable bytes or spaces"),
        (b"", "without the EOF block"),
    ],
    ids=["no-eof", "cut-in-block", "bad-descriptor", "bad-marker", "empty"],
)
def test_a_block_upload_without_its_eof_is_never_226(
    live: LiveServer, raw: bytes, reason: str
) -> None:
    ftp = live.login()
    ftp.sendcmd("MODE B")
    reply = push(ftp, "STOR bad.bin", raw)
    assert reply.startswith("426 MODE B: "), reply
    assert reason in reply
    assert ftp.sendcmd("NOOP").startswith("200")


def test_mode_b_under_tls(live: LiveServer) -> None:
    ftp = ftps_login(live)
    ftp.sendcmd("MODE B")
    assert push(ftp, "STOR t.bin", blocks(TEXT[:70000], TEXT[70000:])).startswith("226 ")
    assert sha((live.files / "t.bin").read_bytes()) == sha(TEXT)
    data, _, ended = unblock(fetch(ftp, "RETR t.bin"))
    assert sha(data) == sha(TEXT) and ended
    reply = push(ftp, "STOR cut.bin", blocks(b"xyz", eof=False))  # close_notify, no EOF block
    assert reply.startswith("426 MODE B: ") and "EOF block" in reply


def test_type_a_line_ends_sit_above_the_mode(live: LiveServer) -> None:
    (live.files / "unix.txt").write_bytes(b"one\ntwo\nthree\n" * 1000)
    ftp = live.login()
    ftp.sendcmd("TYPE A")
    ftp.sendcmd("MODE Z")
    assert zlib.decompress(fetch(ftp, "RETR unix.txt")) == b"one\r\ntwo\r\nthree\r\n" * 1000
    ftp.sendcmd("MODE B")
    assert push(ftp, "STOR dos.txt", blocks(b"a\r", b"\nb\r\n")).startswith("226 ")
    assert (live.files / "dos.txt").read_bytes() == b"a\nb\n"
