"""Hostile bytes on the control connection: a megabyte line, NUL, invalid UTF-8, Telnet IAC,
10,000 pipelined commands. Each leaves other sessions served and the server's buffers bounded."""

from __future__ import annotations

import socket
import threading

from tests.server.helpers import Raw, wait_for
from tests.server.hostile.support import RSS_SLACK_KIB, assert_served, max_pending, rss_kib
from tests.support.live import LiveServer


def test_megabyte_line_without_crlf_is_bounded(live: LiveServer) -> None:
    limit = live.settings.server.max_line_length
    before = rss_kib()
    with Raw.to(live) as raw:
        raw.login()
        chunk = b"A" * 65536
        for _ in range(16):  # 1 MiB, no line end
            raw.send(chunk)
        reply = raw.reply()  # refused as soon as the line overflows, before its end arrives
        assert reply.code == 500 and "too long" in reply.text
        wait_for(lambda: live.server.sessions and max_pending(live) == 0)
        assert max_pending(live) <= limit + 1
        assert_served(live)  # while the long line is still open
        raw.send(b"B" * 100_000 + b"\r\nPWD\r\n")
        assert raw.reply().code == 257  # exactly one refusal for the whole line
        assert raw.quiet_for(0.05)
    assert rss_kib() - before < RSS_SLACK_KIB


def test_nul_invalid_utf8_and_iac_inside_commands(live: LiveServer) -> None:
    (live.files / "ÿfile").write_bytes(b"latin-1 named")
    with Raw.to(live) as raw:
        raw.login()
        raw.send(b"NO\xff\xf1OP\r\n")  # IAC NOP in the middle of the verb
        assert raw.reply().code == 200
        raw.send(b"\xff\xfd\x18\xff\xfe\x01PWD\r\n")  # IAC DO TTYPE, IAC DONT ECHO
        assert raw.reply().code == 257
        raw.send(b"SIZE \xff\xfffile\r\n")  # IAC IAC is a literal 0xFF: latin-1 "ÿfile"
        assert raw.reply().code == 213
        raw.send(b"\xff")  # a lone IAC at the end of a read, its command in the next
        raw.send(b"\xf2NOOP\r\n")
        assert raw.reply().code == 200
        for line in (b"NOOP\x00\x00", b"\x00\x00\x00", b"CWD a\x00b", b"MKD \xc3\x28\x00"):
            raw.send(line + b"\r\n")
            assert raw.reply().code in (500, 501, 550), line
        raw.send(b"MKD \xc3\x28\xa0\xa1\r\n")  # invalid UTF-8: taken as latin-1, inside the root
        assert raw.reply().code == 257
        assert raw.cmd("PWD").code == 257
    assert any(p.name == "\xc3\x28\xa0\xa1" for p in live.files.iterdir())
    assert_served(live)


def test_ten_thousand_pipelined_commands_in_one_write(live: LiveServer) -> None:
    """All answered in order; with more than 64 commands waiting the server stops reading from
    the client (the rest waits in the kernel), and its reply buffer stays bounded."""
    count = 10_000
    lines = [b"TYPE A\r\n" if i % 2 else b"TYPE I\r\n" for i in range(count)]
    with Raw.to(live) as raw:
        raw.login()
        control = next(iter(live.server.sessions))
        raw.send(b"".join(lines))
        wait_for(lambda: control.read_paused or control.write_paused)
        assert control.transport.get_write_buffer_size() < 256 * 1024
        assert_served(live)  # served while the flood waits
        got = _read_lines(raw.sock, count)
        assert got == [b"200 Type set to %s." % (b"A" if i % 2 else b"I") for i in range(count)]
        assert raw.cmd("PWD").code == 257


def _read_lines(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` CRLF-terminated lines, read in large pieces (bounded by the socket timeout)."""
    data = bytearray()
    while data.count(b"\r\n") < count:
        chunk = sock.recv(1 << 20)
        assert chunk, "connection closed early"
        data += chunk
    lines = bytes(data).split(b"\r\n")
    assert lines[count:] == [b""], "more replies than commands"
    return lines[:count]


def test_binary_noise_from_many_sessions_at_once(live: LiveServer) -> None:
    """Twenty sessions send random bytes at the same time; the server answers each with
    well-formed replies and serves a normal session alongside."""
    noise = bytes(range(256)) * 64 + b"\r\n"
    errors: list[BaseException] = []

    def rude() -> None:
        try:
            with Raw.to(live) as raw:
                raw.send(noise * 4)
                raw.send(b"\r\nNOOP\r\n")
                for _ in range(1000):  # replies until the NOOP's (about 260 lines come first)
                    if raw.reply().code == 200:
                        return
                raise AssertionError("NOOP not answered")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=rude) for _ in range(20)]
    for t in threads:
        t.start()
    assert_served(live)
    for t in threads:
        t.join(30)
    assert not errors, errors[0]
    assert max_pending(live) <= live.settings.server.max_line_length + 1
