"""ABOR sent with its transfer command (in the same write, before the transfer began): the
transfer is aborted, not left waiting for data the client will never send or read."""

from __future__ import annotations

import re
import socket

import pytest

from tests.server.helpers import WAIT, Raw, big_file, read_until_closed
from tests.support.live import LiveServer


def _passive(raw: Raw) -> socket.socket:
    port = int(re.findall(r"\d+", raw.cmd("EPSV").text)[0])
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT)


def _port_line(listener: socket.socket) -> bytes:
    port = listener.getsockname()[1]
    return f"EPRT |1|127.0.0.1|{port}|\r\n".encode()


@pytest.mark.parametrize("verb", ["RETR big.bin", "STOR new.bin", "LIST"])
def test_abor_in_the_same_write_as_the_transfer_command(live: LiveServer, verb: str) -> None:
    big_file(live)
    (live.files / "small.txt").write_bytes(b"small\n")
    with Raw.to(live) as raw:
        raw.login()
        with _passive(raw) as conn:  # connected first: the transfer could begin at once
            raw.send(verb.encode() + b"\r\nABOR\r\n")
            aborted = raw.reply()
            assert aborted.code == 426, aborted.text
            assert "before it began" in aborted.text
            done = raw.reply()
            assert done.code == 226
            assert "transfer aborted" in done.text  # not "no transfer was in progress"
            assert "no transfer" in raw.cmd("ABOR").text  # an ABOR of nothing says so
            assert read_until_closed(conn) == b""  # the data connection was closed, unused
        assert raw.cmd("NOOP").code == 200
        with _passive(raw) as conn:  # the next transfer works
            assert raw.cmd("RETR small.txt").code == 150
            assert read_until_closed(conn) == b"small\n"
            assert raw.reply().code == 226


def test_pipelined_abor_belongs_to_the_last_transfer_command_before_it(
    live: LiveServer,
) -> None:
    big_file(live)
    (live.files / "small.txt").write_bytes(b"small\n")
    with (
        Raw.to(live) as raw,
        socket.create_server(("127.0.0.1", 0)) as first,
        socket.create_server(("127.0.0.1", 0)) as second,
    ):
        raw.login()
        first.settimeout(WAIT)
        raw.send(
            _port_line(first)
            + b"RETR small.txt\r\n"
            + _port_line(second)
            + b"RETR big.bin\r\nABOR\r\n"
        )
        assert raw.reply().code == 200
        conn, _ = first.accept()  # the first RETR is not the ABOR's: it runs to its end
        with conn:
            assert read_until_closed(conn) == b"small\n"
        assert raw.reply().code == 150
        assert raw.reply().code == 226
        assert raw.reply().code == 200  # the second EPRT
        assert raw.reply().code == 426  # the second RETR, aborted before it began
        assert raw.reply().code == 226  # the ABOR
        assert raw.cmd("NOOP").code == 200
