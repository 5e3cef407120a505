"""A transfer that hangs after its 150: a scripted server on 127.0.0.1 answers LIST with 150,
takes the data connection, and then sends nothing (or sends the listing and never the 226).
The doctor names the stage and the step, and gives the advice for a hang, not the generic one."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.client.scripted import FileServer, Session
from tests.diagnostics.doctor_support import Doctor, doctor

LISTING = b"-rw-r--r--   1 ftp      ftp             3 Jan 02  2024 a.txt\r\n"


@contextlib.contextmanager
def hanging(after_data: bool) -> Iterator[FileServer]:
    """LIST and MLSD answered with 150 and then silence: on the data connection (held open,
    no byte), or, with ``after_data``, on the control connection after the listing."""
    held: list[socket.socket] = []

    def hang(session: Session, arg: str) -> bool:
        session.send("150 Opening data connection.")
        sock = session.data()
        if after_data:
            with sock:
                sock.sendall(LISTING)
        else:
            held.append(sock)
        return True

    hooks: dict[str, Callable[[Session, str], bool]] = {"LIST": hang, "MLSD": hang}
    try:
        with FileServer({"/a.txt": b"abc"}, hooks=hooks) as files:
            yield files
    finally:
        for sock in held:
            sock.close()


def _run(files: FileServer, lang: str) -> Doctor:
    url = f"ftp://bob:pw@127.0.0.1:{files.port}/"
    return doctor(url, "--passive", "--lang", lang, "--timeout", "1")


def test_a_listing_that_hangs_after_150_gets_the_advice_for_a_hang() -> None:
    with hanging(after_data=False) as files:
        runs = {lang: _run(files, lang) for lang in ("en", "zh-Hans", "zh-Hant")}
    run = runs["en"]
    assert run.exit_code == 1 and run.statuses()["listing"] == "skip"
    for key in ("epsv", "pasv"):
        stage = run.stage(key)
        assert stage["status"] == "fail" and stage["kind"] == "transfer_stalled"
        assert stage["data"]["step"] == "stalled" and stage["data"]["bytes"] == 0
        assert stage["summary"].startswith(f"{key.upper()} failed.")
        assert 'LIST was answered "150 Opening data connection."' in stage["summary"]
        assert "nothing more came on it for 1 s" in stage["summary"]
        assert "hangs after its 150" in stage["summary"]
        found = stage["advice"]
        assert "between the 150 and the 226" in found["meaning"]
        causes = " ".join(found["causes"])
        assert "FTP ALG" in causes and "PROT P" in causes and "wrong address" in causes
        assert any("--active" in fix for fix in found["fixes"])
        assert "426" not in found["meaning"]  # not the generic "transfer aborted"
    assert "传输卡在 150 之后" in runs["zh-Hans"].stage("epsv")["summary"]
    assert "传输卡在 150 和 226 之间" in runs["zh-Hans"].stage("epsv")["advice"]["meaning"]
    assert "傳輸卡在 150 之後" in runs["zh-Hant"].stage("pasv")["summary"]
    assert runs["zh-Hant"].stage("pasv")["advice"]["title"] == "傳輸卡在 150 之後"


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_a_listing_whose_226_never_comes_says_the_data_came(lang: str) -> None:
    with hanging(after_data=True) as files:
        run = _run(files, lang)
    stage = run.stage("epsv")
    assert stage["kind"] == "final_reply_missing" and stage["data"]["step"] == "no_final"
    assert stage["data"]["bytes"] == len(LISTING)
    shown = f"{len(LISTING)} bytes" if lang == "en" else f"{len(LISTING)} 字节"
    assert shown in stage["summary"] and "226" in stage["summary"]
    assert "226" in stage["advice"]["meaning"]


def test_an_upload_the_server_stops_reading_is_a_hang_within_the_timeout() -> None:
    """STOR answered 150, the data connection taken and never read: the doctor gave up only
    when the whole file had gone out, so it waited for ever once the socket buffers were full."""
    held: list[socket.socket] = []

    def stor(session: Session, arg: str) -> bool:
        session.send("150 Send it.")
        held.append(session.data())
        return True

    size = 32 << 20  # far beyond what loopback socket buffers take without a reader
    try:
        with FileServer(hooks={"STOR": stor}) as files:
            url = f"ftp://bob:pw@127.0.0.1:{files.port}/"
            run = doctor(url, "--passive", "--write", "--sample-size", "32M", "--timeout", "1")
    finally:
        for sock in held:
            sock.close()
    write = run.stage("write")
    assert write["status"] == "fail" and write["kind"] == "transfer_stalled"
    assert write["data"]["step"] == "stalled_upload" and 0 < write["data"]["bytes"] < size
    assert 'STOR was answered "150 Send it."' in write["summary"]
    assert "the server took no more data for 1 s" in write["summary"]
    assert run.exit_code == 1
