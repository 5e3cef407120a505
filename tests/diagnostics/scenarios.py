"""FTP sessions against a live pasv server, recorded by the pcap tests and for the fixtures.

Every file's content is derived from its name, so a test can rebuild the originals without the
server (the committed fixtures are checked against the same functions).
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import io
import itertools
import socket
import zlib
from dataclasses import dataclass, field

from pasv.protocol import blockmode
from tests.support.live import PASSWORD, USER, LiveServer


def payload(name: str, size: int) -> bytes:
    """``size`` bytes that only ``name`` produces (a SHA-256 counter stream)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{name}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def text_payload(name: str, lines: int) -> bytes:
    """A text file with LF line ends, for TYPE A transfers."""
    return b"".join(f"{name} line {i}: {payload(name, 8).hex()}\n".encode() for i in range(lines))


DOWNLOAD = ("down.bin", 9000)
SEGMENTED = ("segmented.bin", 12000)
UPLOAD = ("up.bin", 7000)
APPENDED = ("log.bin", 3000, 2000)
STOU_DATA = ("stou", 1500)
TEXT_DOWN = ("notes.txt", 40)
TEXT_UP = ("readme.txt", 30)


@dataclass
class Recorded:
    """What a scenario sent and received: virtual path -> the file's true content."""

    files: dict[str, bytes] = field(default_factory=dict)
    listing_names: list[str] = field(default_factory=list)


class RangeFTP(ftplib.FTP):
    """ftplib whose active-mode (PORT/EPRT) listener takes a port from a known range.

    On ::1 the capture filter can only name ports, and ftplib's own choice is any free port.
    """

    data_ports = range(0)

    def makeport(self) -> socket.socket:
        host = self.sock.getsockname()[0]
        for port in self.data_ports:
            try:
                sock = socket.create_server((host, port), family=self.af, backlog=1)
            except OSError:
                continue  # in use: try the next one
            if self.af == socket.AF_INET6:
                self.sendeprt(host, port)
            else:
                self.sendport(host, port)
            sock.settimeout(self.timeout)
            return sock
        raise OSError(f"no free port in {self.data_ports}")


def _login(live: LiveServer, *, passive: bool, epsv: bool = False) -> ftplib.FTP:
    ftp = RangeFTP(timeout=10, encoding="utf-8")
    high = live.settings.passive.ports[1]
    ftp.data_ports = range(high - 49, high + 1)  # the top of the passive range: inside the filter
    ftp.connect(live.host, live.port)
    live.clients.append(ftp)
    ftp.login(USER, PASSWORD)
    ftp.set_pasv(passive)
    if epsv:
        ftp.af = socket.AF_INET6  # ftplib asks for EPSV only on IPv6; this makes it ask on IPv4
    return ftp


def _segmented_download(ftp: ftplib.FTP, name: str, size: int) -> bytes:
    """Three REST segments, the first two cut short by closing the data connection (then ABOR)."""
    cuts = [0, size // 3, 2 * size // 3, size]
    got = bytearray()
    ftp.voidcmd("TYPE I")
    for start, end in itertools.pairwise(cuts):
        if end == size:
            ftp.retrbinary(f"RETR {name}", got.extend, rest=start)
            break
        conn = ftp.transfercmd(f"RETR {name}", rest=start)
        part = bytearray()
        while len(part) < end - start:
            chunk = conn.recv(end - start - len(part))
            if not chunk:
                break
            part += chunk
        conn.close()
        with contextlib.suppress(ftplib.error_temp):  # 426 when the server was still sending
            ftp.voidresp()
        got += part
    return bytes(got)


def full_session(live: LiveServer, *, passive: bool = True, epsv: bool = False) -> Recorded:
    """Binary up/download with SIZE, a listing, a segmented download, APPE, STOU and TYPE A."""
    rec = Recorded()
    files = live.files
    (files / DOWNLOAD[0]).write_bytes(payload(*DOWNLOAD))
    (files / SEGMENTED[0]).write_bytes(payload(*SEGMENTED))
    (files / TEXT_DOWN[0]).write_bytes(text_payload(*TEXT_DOWN))
    ftp = _login(live, passive=passive, epsv=epsv)
    ftp.voidcmd("TYPE I")
    ftp.size(DOWNLOAD[0])
    got = bytearray()
    ftp.retrbinary(f"RETR {DOWNLOAD[0]}", got.extend)
    assert bytes(got) == payload(*DOWNLOAD)
    rec.files["/" + DOWNLOAD[0]] = bytes(got)
    up = payload(*UPLOAD)
    ftp.storbinary(f"STOR {UPLOAD[0]}", io.BytesIO(up))
    rec.files["/" + UPLOAD[0]] = up
    rec.listing_names = sorted(ftp.nlst())
    ftp.size(SEGMENTED[0])
    rec.files["/" + SEGMENTED[0]] = _segmented_download(ftp, *SEGMENTED[:2])
    assert rec.files["/" + SEGMENTED[0]] == payload(*SEGMENTED)
    first, second = payload(APPENDED[0], APPENDED[1]), payload(APPENDED[0] + "+", APPENDED[2])
    ftp.storbinary(f"STOR {APPENDED[0]}", io.BytesIO(first))
    ftp.storbinary(f"APPE {APPENDED[0]}", io.BytesIO(second))
    rec.files["/" + APPENDED[0]] = first + second
    before = set(p.name for p in files.iterdir())
    ftp.storbinary("STOU", io.BytesIO(payload(*STOU_DATA)))
    [stou_name] = set(p.name for p in files.iterdir()) - before
    rec.files["/" + stou_name] = payload(*STOU_DATA)
    lines: list[str] = []
    ftp.retrlines(f"RETR {TEXT_DOWN[0]}", lines.append)
    rec.files["/" + TEXT_DOWN[0]] = text_payload(*TEXT_DOWN)
    ftp.storlines(f"STOR {TEXT_UP[0]}", io.BytesIO(text_payload(*TEXT_UP)))
    rec.files["/" + TEXT_UP[0]] = text_payload(*TEXT_UP)
    ftp.quit()
    for path, content in rec.files.items():
        assert (files / path.lstrip("/")).read_bytes() == content, path
    return rec


def simple_session(live: LiveServer, *, passive: bool, epsv: bool = False) -> Recorded:
    """A download, an upload and a listing: the smallest session that shows a data channel."""
    rec = Recorded()
    (live.files / DOWNLOAD[0]).write_bytes(payload(*DOWNLOAD))
    ftp = _login(live, passive=passive, epsv=epsv)
    got = bytearray()
    ftp.retrbinary(f"RETR {DOWNLOAD[0]}", got.extend)
    rec.files["/" + DOWNLOAD[0]] = bytes(got)
    up = payload(*UPLOAD)
    ftp.storbinary(f"STOR {UPLOAD[0]}", io.BytesIO(up))
    rec.files["/" + UPLOAD[0]] = up
    rec.listing_names = sorted(ftp.nlst())
    ftp.quit()
    return rec


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    return b"".join(chunks)


def moded_session(live: LiveServer) -> Recorded:
    """A MODE Z download and listing, then a MODE B upload with a restart marker."""
    rec = Recorded()
    text = text_payload("moded", 3000)
    (live.files / "z.txt").write_bytes(text)
    ftp = _login(live, passive=True)
    ftp.voidcmd("TYPE I")
    ftp.voidcmd("MODE Z")
    rec.files["/z.txt"] = zlib.decompress(_read_all(ftp.transfercmd("RETR z.txt")))
    ftp.voidresp()
    rec.listing_names = sorted(zlib.decompress(_read_all(ftp.transfercmd("NLST"))).decode().split())
    ftp.voidresp()
    ftp.voidcmd("MODE B")
    up = payload("moded-up", 150_000)
    raw = b"".join(bytes(p) for p in blockmode.encode_data(up[:100_000]))
    raw += blockmode.encode_marker("100000")
    raw += b"".join(bytes(p) for p in blockmode.encode_data(up[100_000:]))
    conn = ftp.transfercmd("STOR b.bin")
    conn.sendall(raw + blockmode.encode_eof())
    conn.close()
    assert ftp.getline() == "110 MARK 100000 = 100000"
    ftp.voidresp()
    rec.files["/b.bin"] = up
    ftp.quit()
    return rec


def server_filter(live: LiveServer) -> str:
    """tcpdump filter for this server's traffic only.

    On IPv4 each test's server has an address of its own in 127/8, so the address alone picks
    its sessions, passive and active, and nothing of the other tests on lo. On ::1 the filter is
    the control port and the passive range.
    """
    if ":" not in live.host:
        return f"tcp and host {live.host}"
    low, high = live.settings.passive.ports
    return f"tcp and host {live.host} and (port {live.port} or portrange {low}-{high})"
