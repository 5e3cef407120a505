"""`pasv doctor` against a scripted server whose 227 or 229 names an address nobody can connect
to: the reply is called broken, not "refused" or "not supported"."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.client.scripted import FileServer, Session
from tests.diagnostics.doctor_support import doctor

PASSWORD = "Broken-Reply-Pw-31"


def _serve(conn: socket.socket, pasv: str | None, epsv: str | None) -> None:
    """One session: login, then the given 227/229 (or a working one), a listing, QUIT."""
    data: socket.socket | None = None
    with conn, conn.makefile("rb") as lines:

        def send(text: str) -> None:
            conn.sendall(text.encode() + b"\r\n")

        send("220 scripted")
        for raw in lines:
            verb = raw.decode(errors="replace").split(" ", 1)[0].strip().upper()
            if verb in ("PASV", "EPSV") and (pasv if verb == "PASV" else epsv) is None:
                if data is not None:
                    data.close()
                data = socket.create_server(("127.0.0.1", 0))
                port = data.getsockname()[1]
                if verb == "PASV":
                    send(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
                else:
                    send(f"229 Entering Extended Passive Mode (|||{port}|)")
            elif verb in ("PASV", "EPSV"):
                send(pasv if verb == "PASV" else epsv or "")
            elif verb in ("LIST", "MLSD", "NLST") and data is not None:
                send("150 Here it comes")
                with data, data.accept()[0] as peer:
                    peer.sendall(b"-rw-r--r-- 1 u g 5 Jan 1 00:00 a.txt\r\n")
                data = None
                send("226 Done")
            elif verb == "QUIT":
                send("221 Bye")
                break
            else:
                replies = {"USER": "331 Password", "PASS": "230 In", "PWD": '257 "/"'}
                send(replies.get(verb, "200 OK" if verb in ("TYPE", "OPTS") else "502 No"))
        if data is not None:
            data.close()


@contextlib.contextmanager
def scripted(pasv: str | None = None, epsv: str | None = None) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn = listener.accept()[0]
                threading.Thread(target=_serve, args=(conn, pasv, epsv), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    with listener:
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    ("stage", "reply", "problem"),
    [
        ("pasv", "227 Entering Passive Mode (127,0,0,1,300,5)", "port"),
        ("pasv", "227 Entering Passive Mode (127,0,0,1,0,0)", "zero"),
        ("epsv", "229 Entering Extended Passive Mode (|||0|)", "zero"),
        ("epsv", "229 Entering Extended Passive Mode (|||99999|)", "port"),
    ],
)
def test_an_unconnectable_passive_reply_is_a_broken_reply(
    stage: str, reply: str, problem: str
) -> None:
    replies = {"pasv": reply} if stage == "pasv" else {"epsv": reply}
    with scripted(**replies) as port:
        run = doctor(f"ftp://bob:{PASSWORD}@127.0.0.1:{port}/", "--passive", "-v")
        zh = doctor(f"ftp://bob:{PASSWORD}@127.0.0.1:{port}/", "--passive", "--lang", "zh-Hans")
    found = run.stage(stage)
    assert found["kind"] == "passive_reply_broken" and found["data"]["problem"] == problem
    assert "broken reply" in found["summary"] and reply in found["summary"]
    assert "refused" not in found["summary"] and "not supported" not in found["summary"]
    other = "EPSV (229) instead of PASV" if stage == "pasv" else "PASV (227) instead of EPSV"
    assert other in found["advice"]["fixes"][0]
    assert "回复是坏的" in zh.stage(stage)["summary"]
    assert "SITE PASVINFO" in zh.stage(stage)["advice"]["fixes"][0]
    assert PASSWORD not in run.result.output and PASSWORD not in zh.result.output


@pytest.mark.parametrize(
    "url",
    [
        f"ftp://bob:{PASSWORD}@[127.0.0.1/",
        f"ftp://bob:{PASSWORD}@127.0.0.1:99999/",
        f"ftpx://bob:{PASSWORD}@127.0.0.1/",
        f"ftp://bob:{PASSWORD}@:21/",
        f"ftp://bob:{PASSWORD}@127.0.0.1/%0D%0ADELE%20x",
        f"ftp://bob:with:{PASSWORD}@and@127.0.0.1:99999/",
    ],
)
def test_a_bad_url_is_a_usage_error_that_never_shows_its_password(url: str) -> None:
    run = doctor(url)
    assert run.exit_code == 2 and "Error:" in run.result.output
    assert "bob:****@" in run.result.output
    assert PASSWORD not in run.result.output and "with:" not in run.result.output


@pytest.mark.parametrize("who", [f"bob:{PASSWORD}%0D%0ASITE%20X", "bob%0ASITE%20X:pw"])
def test_a_line_break_in_the_user_or_password_is_refused_before_connecting(who: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        run = doctor(f"ftp://{who}@127.0.0.1:{listener.getsockname()[1]}/")
        with pytest.raises(BlockingIOError):  # no connection was made: nothing was sent
            listener.accept()
    assert run.exit_code == 2 and "line break or NUL" in run.result.output
    assert PASSWORD not in run.result.output


def test_a_broken_reply_after_a_good_one_is_broken_at_the_stage_that_got_it() -> None:
    """PASV works once; the listing's own PASV then names port byte 300 (a server whose port
    arithmetic ran past the last port): the listing stage says the reply is broken, with the
    other passive command to use, not the advice of a well-formed 227."""
    broken = "227 Entering Passive Mode (127,0,0,1,300,5)"

    asked: dict[int, int] = {}

    def pasv(session: Session, arg: str) -> bool:
        asked[id(session)] = asked.get(id(session), 0) + 1
        if asked[id(session)] == 1:
            return False  # the server's own working 227
        session.send(broken)
        return True

    def epsv(session: Session, arg: str) -> bool:
        session.send("502 EPSV not implemented.")
        return True

    with FileServer({"/a.txt": b"abc"}, hooks={"PASV": pasv, "EPSV": epsv}) as files:
        url = f"ftp://bob:{PASSWORD}@127.0.0.1:{files.port}/"
        runs = {lang: doctor(url, "--passive", "--lang", lang) for lang in ("en", "zh-Hans")}
    assert runs["en"].stage("pasv")["status"] == "ok"
    listing = runs["en"].stage("listing")
    assert listing["status"] == "fail" and runs["en"].exit_code == 1
    assert listing["kind"] == "passive_reply_broken" and listing["data"]["problem"] == "port"
    assert listing["summary"].startswith("PASV answered") and broken in listing["summary"]
    assert "76805" in listing["advice"]["meaning"]
    assert "EPSV (229) instead of PASV" in listing["advice"]["fixes"][0]
    assert not any("private" in fix for fix in listing["advice"]["fixes"])  # no 227 advice
    zh = runs["zh-Hans"].stage("listing")
    assert zh["kind"] == "passive_reply_broken" and "回复是坏的" in zh["summary"]
