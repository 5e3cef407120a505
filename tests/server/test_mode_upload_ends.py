"""MODE Z and MODE B uploads in TYPE A whose stream is cut: 426, as in TYPE I (not a 451
internal error), and the session goes on."""

from __future__ import annotations

import zlib

import pytest

from tests.server.test_modes import TEXT, blocks, push
from tests.support.live import LiveServer

CRLF_TEXT = TEXT.replace(b"\n", b"\r\n")


@pytest.mark.parametrize("type_", ["A", "I"])
@pytest.mark.parametrize(
    ("mode", "raw", "reason"),
    [
        ("Z", zlib.compress(CRLF_TEXT)[: len(zlib.compress(CRLF_TEXT)) // 2], "compressed"),
        ("B", blocks(CRLF_TEXT[:65535], eof=False), "EOF block"),
    ],
    ids=["mode-z", "mode-b"],
)
def test_a_cut_mode_upload_is_a_426_in_either_type(
    live: LiveServer, type_: str, mode: str, raw: bytes, reason: str
) -> None:
    ftp = live.login()
    ftp.sendcmd(f"TYPE {type_}")
    ftp.sendcmd(f"MODE {mode}")
    reply = push(ftp, "STOR cut.txt", raw)
    assert reply.startswith("426 "), reply
    assert reason in reply
    assert ftp.sendcmd("NOOP").startswith("200")
