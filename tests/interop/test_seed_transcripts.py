"""The seed's two FileZilla sessions (passive and active upload of 404.htm), replayed exactly.

The transcripts (Serv-U server, FileZilla client) are in the project's seed document
(../shared/seed). After its login
connection (USER, PASS, PWD) FileZilla opens a second connection for the upload: USER, PASS,
CWD /, TYPE A, PASV|PORT, STOR 404.htm (2,052 bytes), TYPE I, PASV|PORT, MLSD. We send the same
commands and expect the same reply codes in the same order.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.interop.rawftp import RawFtp, Reply, parse_227, port_argument, recv_all
from tests.support.live import PASSWORD, USER, LiveServer

pytestmark = pytest.mark.interop

UPLOAD_SIZE = 2052  # "傳輸了 2,052 位元組": what FileZilla sent in TYPE A, CRLF line ends


def windows_404_page() -> bytes:
    """An HTML error page as saved on Windows: CRLF line ends, exactly 2,052 bytes."""
    lines = [
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">',
        "<html>",
        "<head>",
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">',
        "<title>404 - File or directory not found</title>",
        '<style type="text/css">',
        "body { margin: 0; font-size: .7em; font-family: Verdana, Arial, sans-serif; }",
        "h2 { font-size: 1.7em; margin: 0; color: #CC0000; }",
        "</style>",
        "</head>",
        "<body>",
        '<div id="header"><h1>Server Error</h1></div>',
        '<div id="content">',
        "<h2>404 - File or directory not found.</h2>",
        "<h3>The resource you are looking for might have been removed, had its name changed,",
        "or is temporarily unavailable.</h3>",
    ]
    lines += [f"<p>line {n}: liugong mirror placeholder text.</p>" for n in range(1, 28)]
    lines += ["</div>", "</body>", "</html>"]
    body = "\r\n".join(lines) + "\r\n"
    padding = UPLOAD_SIZE - len(body) - len("<!--  -->\r\n")
    assert padding >= 0
    page = (body + "<!-- " + "x" * padding + " -->\r\n").encode("ascii")
    assert len(page) == UPLOAD_SIZE
    assert page.count(b"\n") == page.count(b"\r\n")
    return page


PAGE = windows_404_page()
ON_DISK = PAGE.replace(b"\r\n", b"\n")


def login(ftp: RawFtp) -> None:
    ftp.read_reply()
    ftp.cmd(f"USER {USER}")
    ftp.cmd(f"PASS {PASSWORD}")


def first_connection(live: LiveServer) -> list[Reply]:
    """FileZilla's directory-reading connection: USER, PASS, PWD (QUIT's 221 dropped)."""
    with RawFtp(live.host, live.port) as ftp:
        login(ftp)
        ftp.cmd("PWD")
        assert ftp.cmd("QUIT").code == 221
        return ftp.replies[:-1]


class DataSide:
    """The test's end of one data connection, opened on first use."""

    def __init__(self, opener: Callable[[], socket.socket]) -> None:
        self._opener = opener
        self._sock: socket.socket | None = None

    def get(self) -> socket.socket:
        if self._sock is None:
            self._sock = self._opener()
            self._sock.settimeout(10)
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


@contextmanager
def passive(ftp: RawFtp) -> Iterator[DataSide]:
    """PASV, then connect at once (as FileZilla does) to the address it names."""
    reply = ftp.cmd("PASV")
    host, port = parse_227(reply)
    assert host == "127.0.0.1", reply.text
    side = DataSide(lambda: socket.create_connection((host, port), timeout=10))
    side.get()
    try:
        yield side
    finally:
        side.close()


@contextmanager
def active(ftp: RawFtp) -> Iterator[DataSide]:
    """A listening socket of ours on 127.0.0.1, announced with PORT.

    The server connects before it sends 150; the kernel completes that connection in our listen
    backlog, so the test reads the 150 first and accepts afterwards.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        ftp.cmd(f"PORT {port_argument('127.0.0.1', listener.getsockname()[1])}")
        side = DataSide(lambda: listener.accept()[0])
        try:
            yield side
        finally:
            side.close()


def upload_connection(live: LiveServer, mode: str) -> tuple[list[Reply], bytes]:
    """FileZilla's upload connection; returns every reply (QUIT's 221 dropped) and the MLSD body."""
    prepare = passive if mode == "passive" else active
    with RawFtp(live.host, live.port) as ftp:
        login(ftp)
        ftp.cmd("CWD /")
        ftp.cmd("TYPE A")
        with prepare(ftp) as side:
            if ftp.cmd("STOR 404.htm").code == 150:
                side.get().sendall(PAGE)
                side.close()  # end of file
                ftp.read_reply()
        ftp.cmd("TYPE I")
        listing = b""
        with prepare(ftp) as side:
            if ftp.cmd("MLSD").code == 150:
                listing = recv_all(side.get())
                ftp.read_reply()
        assert ftp.cmd("QUIT").code == 221
        return ftp.replies[:-1], listing


def mlsd_sizes(listing: bytes) -> dict[str, int]:
    """name -> size fact of each file, from an MLSD body (``fact=value;... name`` lines)."""
    assert listing.endswith(b"\r\n"), listing
    sizes = {}
    for line in listing.decode("utf-8").split("\r\n")[:-1]:
        facts, _, name = line.partition(" ")
        values = dict(f.split("=", 1) for f in facts.split(";") if f)
        if values.get("type", "").lower() == "file":
            sizes[name] = int(values["size"])
    return sizes


def show(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def assert_modes(replies: list[Reply]) -> None:
    """As in the transcript: the STOR's 150 says ASCII, the MLSD's 150 says BINARY."""
    assert "ASCII" in replies[6].text, replies[6].text
    assert "BINARY" in replies[10].text, replies[10].text


def test_filezilla_passive_upload_transcript(live: LiveServer) -> None:
    login_replies = first_connection(live)
    assert [r.code for r in login_replies] == [220, 331, 230, 257], show(login_replies)
    assert '"/"' in login_replies[-1].text
    replies, listing = upload_connection(live, "passive")
    #   banner USER PASS CWD  TYPE A PASV STOR 150/226  TYPE I PASV MLSD 150/226
    expected = [220, 331, 230, 250, 200, 227, 150, 226, 200, 227, 150, 226]
    assert [r.code for r in replies] == expected, show(replies)
    assert_modes(replies)
    stored = (live.files / "404.htm").read_bytes()
    assert stored == ON_DISK  # TYPE A: CRLF on the wire, LF on disk
    assert len(stored) == UPLOAD_SIZE - PAGE.count(b"\r\n")
    assert mlsd_sizes(listing) == {"404.htm": len(ON_DISK)}


def test_filezilla_active_upload_transcript(live: LiveServer) -> None:
    # The active transcript has no separate PWD connection: it starts with the upload connection.
    replies, listing = upload_connection(live, "active")
    #   banner USER PASS CWD  TYPE A PORT STOR 150/226  TYPE I PORT MLSD 150/226
    expected = [220, 331, 230, 250, 200, 200, 150, 226, 200, 200, 150, 226]
    assert [r.code for r in replies] == expected, show(replies)
    assert_modes(replies)
    stored = (live.files / "404.htm").read_bytes()
    assert stored == ON_DISK
    assert mlsd_sizes(listing) == {"404.htm": len(ON_DISK)}
