"""The jail: '..' beyond the root, absolute paths, symlinks that point outside, and NUL bytes are
refused with 550, and nothing outside the user's root is read or touched."""

from __future__ import annotations

import ftplib
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.helpers import Raw, data_socket, read_until_closed
from tests.support.live import LiveServer

SECRET = b"outside secret\n"


@dataclass
class Outside:
    root: Path
    secret: Path

    def snapshot(self) -> dict[str, tuple[int, float, str]]:
        """Every entry below the outside directory: mode, mtime and content hash."""
        result = {}
        for path in sorted(self.root.rglob("*")):
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            result[str(path.relative_to(self.root))] = (st.st_mode, st.st_mtime, digest)
        return result


@pytest.fixture
def outside(live: LiveServer, tmp_path: Path) -> Iterator[Outside]:
    root = tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    secret = root / "secret.txt"
    secret.write_bytes(SECRET)
    os.utime(secret, (1_500_000_000, 1_500_000_000))
    files = live.files
    (files / "inside.txt").write_bytes(b"inside")
    (files / "etc").symlink_to("/etc")
    (files / "outdir").symlink_to(root)
    (files / "secret").symlink_to(secret)
    (files / "relative").symlink_to(os.path.relpath(secret, files))
    (files / "dangling").symlink_to(root / "created-by-attacker.txt")
    (files / "good").symlink_to("inside.txt")
    out = Outside(root, secret)
    before = out.snapshot()
    yield out
    assert out.snapshot() == before, "something outside the root changed"


@pytest.fixture
def raw(live: LiveServer, outside: Outside) -> Iterator[Raw]:
    with Raw.to(live) as conn:
        conn.login()
        yield conn


def transfer(raw: Raw, line: str, payload: bytes = b"") -> tuple[int, bytes]:
    """Run a data command in passive mode; return the final code and what the data link carried."""
    port = int(raw.cmd("EPSV").text.split("|||")[1].split("|")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        first = raw.cmd(line)
        if first.code != 150:
            return first.code, b""
        if payload:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
        got = read_until_closed(conn)
    return raw.reply().code, got


def test_dotdot_beyond_root(raw: Raw) -> None:
    assert raw.cmd("CWD ..").code == 550
    assert raw.cmd("CDUP").code == 550
    assert raw.cmd("CWD ../..").code == 550
    assert raw.cmd("PWD").text.startswith('"/"')
    assert raw.cmd("SIZE ../outside/secret.txt").code == 550
    assert raw.cmd("RETR ../../../../etc/passwd").code == 550
    assert raw.cmd("MKD ../escape").code == 550
    assert raw.cmd("LIST ..").code == 550
    assert raw.cmd("NOOP").code == 200


def test_dotdot_inside_root_is_fine(live: LiveServer, raw: Raw) -> None:
    (live.files / "a").mkdir()
    assert raw.cmd("CWD a/../a/..").code == 250
    assert raw.cmd("PWD").text.startswith('"/"')
    assert raw.cmd("CWD a").code == 250
    assert raw.cmd("SIZE ../inside.txt").text == "6"


def test_absolute_paths_resolve_inside_root(raw: Raw) -> None:
    for line in ("RETR /etc/passwd", "SIZE /etc/passwd", "CWD /tmp", "MLST /etc/passwd"):
        assert raw.cmd(line).code == 550, line
    assert raw.cmd("SIZE /inside.txt").text == "6"
    code, data = transfer(raw, "RETR /etc/passwd")
    assert (code, data) == (550, b"")


def test_symlink_to_etc(raw: Raw) -> None:
    for line in (
        "CWD etc",
        "CWD /etc/",
        "SIZE etc/passwd",
        "MDTM etc/passwd",
        "MLST etc",
        "STAT etc",
        "HASH etc/passwd",
        "MKD etc/pasv-test",
        "DELE etc/hostname",
    ):
        assert raw.cmd(line).code == 550, line
    for line in ("RETR etc/passwd", "LIST etc", "NLST etc", "MLSD etc", "LIST etc/passwd"):
        code, data = transfer(raw, line)
        assert (code, data) == (550, b""), line
    assert not os.path.exists("/etc/pasv-test")


def test_root_listing_does_not_follow_outside_links(raw: Raw) -> None:
    code, data = transfer(raw, "LIST")
    assert code == 226
    lines = {line.split()[-1]: line for line in data.decode().splitlines()}
    assert lines["etc"].startswith("l")
    assert lines["outdir"].startswith("l")
    assert lines["good"].startswith("-")  # a link inside the root is followed
    assert "passwd" not in data.decode()


def test_symlinked_file_outside(raw: Raw) -> None:
    for name in ("secret", "relative"):
        for line in (
            f"SIZE {name}",
            f"MDTM {name}",
            f"HASH {name}",
            f"SITE CHMOD 777 {name}",
            f"MFMT 20000101000000 {name}",
            f"MLST {name}",
            f"CWD {name}",
        ):
            assert raw.cmd(line).code == 550, line
        for line, payload in (
            (f"RETR {name}", b""),
            (f"STOR {name}", b"overwrite"),
            (f"APPE {name}", b"append"),
        ):
            code, data = transfer(raw, line, payload)
            assert (code, data) == (550, b""), line
    assert raw.cmd("SIZE good").text == "6"


def test_symlinked_directory_outside(raw: Raw) -> None:
    for line in (
        "CWD outdir",
        "MKD outdir/new",
        "RMD outdir/sub",
        "DELE outdir/secret.txt",
        "RNFR outdir/secret.txt",
        "SITE CHMOD 777 outdir/secret.txt",
    ):
        assert raw.cmd(line).code == 550, line
    for line, payload in (
        ("STOR outdir/new.txt", b"x"),
        ("STOU outdir/new.txt", b"x"),
        ("RETR outdir/secret.txt", b""),
        ("LIST outdir", b""),
    ):
        code, data = transfer(raw, line, payload)
        assert (code, data) == (550, b""), line


def test_rename_out_of_the_root(raw: Raw) -> None:
    assert raw.cmd("RNFR inside.txt").code == 350
    assert raw.cmd("RNTO outdir/stolen.txt").code == 550
    assert raw.cmd("RNFR inside.txt").code == 350
    assert raw.cmd("RNTO ../stolen.txt").code == 550
    assert raw.cmd("SIZE inside.txt").text == "6"


def test_dangling_symlink_outside(live: LiveServer, raw: Raw, outside: Outside) -> None:
    code, _ = transfer(raw, "STOR dangling", b"planted")
    assert code == 550
    assert not (outside.root / "created-by-attacker.txt").exists()
    assert raw.cmd("SITE CHMOD 777 dangling").code == 550


def test_removing_links_never_touches_targets(live: LiveServer, raw: Raw, outside: Outside) -> None:
    assert raw.cmd("DELE secret").code == 250  # the link itself, inside the root
    assert not os.path.lexists(live.files / "secret")
    assert outside.secret.read_bytes() == SECRET
    assert raw.cmd("RNFR relative").code == 550  # RNFR checks the target, which is outside
    assert os.path.islink(live.files / "relative")


@pytest.mark.parametrize(
    "line",
    [
        "CWD a\x00b",
        "RETR inside.txt\x00.jpg",
        "MKD x\x00y",
        "DELE inside.txt\x00",
        "SIZE \x00",
        "RNFR inside.txt\x00",
        "SITE CHMOD 777 inside.txt\x00",
        "MFMT 20000101000000 in\x00side.txt",
    ],
)
def test_nul_bytes_are_refused(live: LiveServer, raw: Raw, line: str) -> None:
    before = sorted(p.name for p in live.files.iterdir())
    reply = raw.cmd(line)
    assert reply.code == 550, reply
    assert sorted(p.name for p in live.files.iterdir()) == before
    assert (live.files / "inside.txt").read_bytes() == b"inside"
    assert raw.cmd("NOOP").code == 200


def test_nul_byte_upload_is_refused(live: LiveServer, outside: Outside) -> None:
    ftp = live.login()
    with data_socket(ftp), pytest.raises(ftplib.error_perm) as exc:
        ftp.sendcmd("STOR evil\x00.txt")
    assert str(exc.value).startswith("550")
    assert not any(p.name.startswith("evil") for p in live.files.iterdir())


TRAVERSAL = [
    b"..",
    b"../outside/secret.txt",
    b"../../../../../../etc/passwd",
    b"/../../etc/passwd",
    b"//etc/passwd",
    b"/./.././../etc/hostname",
    b"sub/../../..",
    b"%2e%2e/%2e%2e/etc/passwd",
    b"%2e%2e%2fetc%2fpasswd",
    b"..%2f..%2fetc%2fpasswd",
    b"%252e%252e/etc/passwd",
    b"..\\..\\etc\\passwd",
    b"\\..\\..\\etc\\passwd",
    b"C:\\Windows\\win.ini",
    b"\xc0\xae\xc0\xae/\xc0\xae\xc0\xae/etc/passwd",  # overlong UTF-8 dots
    "．．/．．/etc/passwd".encode(),  # fullwidth full stops
    b"outdir/../../outside/secret.txt",
    b"etc/../etc/passwd",
    b"secret/../secret",
    b"~/../../etc/passwd",
    b"...//....//etc/passwd",
]


def _snapshot_around(tmp_path: Path, keep_out: Path) -> dict[str, tuple[int, float, int]]:
    """Everything below ``tmp_path`` except the data directory: mode, mtime and size."""
    found = {}
    for path in sorted(tmp_path.rglob("*")):
        if path == keep_out or keep_out in path.parents:
            continue
        st = path.lstat()
        found[str(path)] = (st.st_mode, st.st_mtime, st.st_size)
    return found


def _transfer_raw(raw: Raw, line: bytes, payload: bytes = b"") -> tuple[int, bytes]:
    port = int(raw.cmd("EPSV").text.split("|||")[1].split("|")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        raw.send(line + b"\r\n")
        first = raw.reply()
        if first.code != 150:
            return first.code, b""
        if payload:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
        got = read_until_closed(conn)
    return raw.reply().code, got


@pytest.mark.parametrize("path", TRAVERSAL, ids=range(len(TRAVERSAL)))
def test_traversal_corpus_stays_inside_the_root(
    live: LiveServer, raw: Raw, outside: Outside, tmp_path: Path, path: bytes
) -> None:
    """Each path with every kind of command: nothing outside the root is read or changed (the
    ``outside`` fixture compares its snapshot, this test everything else around the data dir)."""
    data_dir = live.settings.server.data_dir
    before = _snapshot_around(tmp_path, data_dir)
    hostname = Path("/etc/hostname").read_bytes()
    for verb in (b"CWD", b"SIZE", b"MDTM", b"MLST", b"HASH", b"MKD", b"RMD", b"DELE", b"RNFR"):
        raw.send(verb + b" " + path + b"\r\n")
        reply = raw.reply()
        if reply.code == 350:
            raw.send(b"RNTO " + path + b".moved\r\n")
            reply = raw.reply()
        assert SECRET.decode().strip() not in reply.text
        raw.cmd("CWD /")
    for verb in (b"RETR", b"LIST", b"NLST", b"MLSD"):
        _, data = _transfer_raw(raw, verb + b" " + path)
        assert SECRET not in data and b"root:x:0:0" not in data, verb
    for verb in (b"STOR", b"APPE"):
        code, _ = _transfer_raw(raw, verb + b" " + path, b"planted by a test")
        assert code in (226, 550, 553), (verb, code)
    assert _snapshot_around(tmp_path, data_dir) == before
    assert Path("/etc/hostname").read_bytes() == hostname  # other tests may add users to /etc
    assert not [name for name in os.listdir("/etc") if name.endswith(".moved")]
