"""What a session holds between commands: state made when first needed, objects its idle
neighbours share, and a change that stays in the session that made it."""

from __future__ import annotations

import ftplib
import io
import math

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject
from pasv.server.control import ControlProtocol
from pasv.server.session import DEFAULT_OPTIONS, SessionOptions
from tests.server.helpers import Raw, code_of, wait_for
from tests.support.live import LiveServer


def _controls(live: LiveServer, count: int) -> list[ControlProtocol]:
    wait_for(lambda: len(live.server.sessions) == count)
    return sorted(live.server.sessions, key=lambda control: control.session.id)


def test_an_option_changed_in_one_session_stays_in_it(live: LiveServer) -> None:
    with Raw.to(live) as first, Raw.to(live) as second:
        first.login()
        second.login()
        a, b = _controls(live, 2)
        assert a.session.options is DEFAULT_OPTIONS is b.session.options
        assert first.cmd("MODE Z").code == 200
        assert first.cmd("OPTS MODE Z LEVEL 9").code == 200  # not the default level
        assert first.cmd("OPTS HASH MD5").code == 200
        assert first.cmd("OPTS MLST size;").code == 200
        assert second.cmd("OPTS HASH").text == "SHA-256"  # the other session is untouched
        assert "MODE: Stream" in second.cmd("STAT").text
        default_level = live.settings.modes.deflate_level
        assert second.cmd("OPTS MODE Z").text == f"MODE Z LEVEL {default_level}"
        assert first.cmd("OPTS MODE Z").text == "MODE Z LEVEL 9"
        assert first.cmd("OPTS HASH").text == "MD5"
        assert a.session.options.mode == "Z" and a.session.options.mlst_facts == {"size"}
        assert b.session.options is DEFAULT_OPTIONS
        assert SessionOptions() == DEFAULT_OPTIONS  # the shared object was never changed


def test_back_to_the_defaults_is_the_shared_object_again(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        (control,) = _controls(live, 1)
        assert raw.cmd("MODE S").code == 200  # what many clients send first: nothing changes
        assert control.session.options is DEFAULT_OPTIONS
        assert raw.cmd("MODE Z").code == 200
        assert control.session.options.mode == "Z"
        assert raw.cmd("MODE S").code == 200
        assert control.session.options is DEFAULT_OPTIONS


def test_rein_forgets_the_options_and_shares_the_defaults_again(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        (control,) = _controls(live, 1)
        assert raw.cmd("MODE B").code == 200
        assert raw.cmd("EPSV ALL").code == 200
        assert raw.cmd("PASV").code == 503  # EPSV ALL refuses the other data commands
        assert control.session.options is not DEFAULT_OPTIONS
        assert raw.cmd("REIN").code == 220
        assert control.session.options is DEFAULT_OPTIONS
        raw.login()
        assert raw.cmd("PASV").code == 227
        assert "MODE: Stream" in raw.cmd("STAT").text


def test_allo_holds_its_size_until_the_upload_takes_it(live: LiveServer) -> None:
    ftp = live.login()
    try:
        (control,) = _controls(live, 1)
        ftp.voidcmd("ALLO 5")
        assert control.session.options.allocated == 5
        ftp.storbinary("STOR five.txt", io.BytesIO(b"12345"))
        assert control.session.options is DEFAULT_OPTIONS
        assert (live.files / "five.txt").read_bytes() == b"12345"
    finally:
        ftp.close()


def test_sessions_of_one_account_share_its_user_and_access(live: LiveServer) -> None:
    (live.files / "keep.txt").write_bytes(b"k")
    first, second = live.login(), live.login()
    try:
        a, b = _controls(live, 2)
        assert a.session.user is b.session.user
        before = a.session.access
        assert before is b.session.access
        rule = Rule(Action.DENY, (Subject.parse("*"),), "/keep.txt", Perm.parse("DELE"))
        live.policy.add_rule(rule)
        live.reload_policy()  # a new policy: each session builds the access it gives
        with pytest.raises(ftplib.error_perm) as refused:
            second.delete("keep.txt")
        assert code_of(refused.value) == 550
        assert a.session.access is not before
        assert a.session.access is b.session.access
        assert (live.files / "keep.txt").exists()
    finally:
        first.close()
        second.close()


def test_a_line_buffer_is_made_for_the_first_line_in_pieces(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        raw.login()
        (control,) = _controls(live, 1)
        assert raw.cmd("NOOP").code == 200
        assert control.lines is None and control.pending == 0  # whole lines need none
        raw.send(b"NO")
        wait_for(lambda: control.pending == 2)
        raw.send(b"OP\r\n")
        assert raw.reply().code == 200
        assert control.lines is not None and control.pending == 0
        assert raw.cmd("SYST").code == 215


def test_the_login_timer_stops_at_login_and_restarts_on_rein(live: LiveServer) -> None:
    with Raw.to(live) as raw:
        (control,) = _controls(live, 1)
        assert math.isfinite(control.login_deadline)
        raw.login()
        assert control.login_deadline == math.inf
        assert raw.cmd("REIN").code == 220
        assert math.isfinite(control.login_deadline)


def test_stat_counts_nothing_moved_before_the_first_transfer(live: LiveServer) -> None:
    ftp = live.login()
    try:
        (control,) = _controls(live, 1)
        status = ftp.sendcmd("STAT")
        assert "0 files (0 bytes) uploaded, 0 files (0 bytes) downloaded" in status
        assert control.session.counters is None
        ftp.storbinary("STOR u.txt", io.BytesIO(b"123"))
        status = ftp.sendcmd("STAT")
        assert "1 files (3 bytes) uploaded, 0 files (0 bytes) downloaded" in status
    finally:
        ftp.close()


def test_sessions_reached_at_one_address_share_it(live: LiveServer) -> None:
    with Raw.to(live) as first, Raw.to(live) as second:
        first.login()
        second.login()
        a, b = _controls(live, 2)
        assert a.session.local is None  # asked of the socket when first needed
        assert first.cmd("PASV").code == 227
        assert second.cmd("EPSV").code == 229
        assert a.session.local == (live.host, live.port)
        assert a.session.local is b.session.local
