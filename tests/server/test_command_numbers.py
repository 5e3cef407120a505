"""Numbers in command arguments are ASCII digits: a superscript '²' was a 451 internal error
(str.isdigit() takes it, int() does not), and Arabic-Indic digits, a sign, an underscore or an
'0o' prefix were taken as a number (int() accepts them all)."""

from __future__ import annotations

import pytest

from tests.server.helpers import Raw
from tests.support.live import LiveServer

_NOT_NUMBERS = ("\u00b2", "\u0663", "\uff15", "+5", "5_0", "0o5", "-0")


@pytest.mark.parametrize("text", _NOT_NUMBERS)
def test_rest_and_mode_z_level_refuse_what_is_not_ascii_digits(live: LiveServer, text: str) -> None:
    with Raw.to(live) as raw:
        raw.login()
        rest = raw.cmd(f"REST {text}")
        assert rest.code == 501 and "whole number" in rest.text, rest
        level = raw.cmd(f"OPTS MODE Z LEVEL {text}")
        assert level.code == 501 and "0 to 9" in level.text, level
        allo = raw.cmd(f"ALLO {text}")
        assert allo.code == 202 and allo.text == "ALLO not needed: no allocation is required."
        assert raw.cmd("NOOP").code == 200


@pytest.mark.parametrize("mode", ["\u0666\u0664\u0664", "+644", "6_4_4", "0o644", "\u00b2"])
def test_site_chmod_takes_octal_digits_only(live: LiveServer, mode: str) -> None:
    target = live.files / "f.txt"
    target.write_bytes(b"x")
    target.chmod(0o600)
    with Raw.to(live) as raw:
        raw.login()
        reply = raw.cmd(f"SITE CHMOD {mode} f.txt")
        assert reply.code == 501 and "octal mode" in reply.text, reply
    assert target.stat().st_mode & 0o7777 == 0o600


@pytest.mark.parametrize("verb", ["MKD", "STOR", "RNTO"])
def test_a_new_name_with_a_carriage_return_is_refused(live: LiveServer, verb: str) -> None:
    """A bare CR inside a command line reaches the argument; a name made with it could not be
    listed (a listing line ends there) or named in a command again."""
    (live.files / "old.txt").write_bytes(b"old")
    before = sorted(p.name for p in live.files.iterdir())
    with Raw.to(live) as raw:
        raw.login()
        if verb == "RNTO":
            assert raw.cmd("RNFR old.txt").code == 350
        elif verb == "STOR":
            assert raw.cmd("PASV").code == 227
        reply = raw.cmd(f"{verb} a\rb.txt")
        assert reply.code == 553 and "line break" in reply.text, reply
        assert raw.cmd("NOOP").code == 200
    assert sorted(p.name for p in live.files.iterdir()) == before


def test_the_331_repeats_a_user_name_without_control_characters_and_not_all_of_a_long_one(
    live: LiveServer,
) -> None:
    with Raw.to(live) as raw:
        reply = raw.cmd("USER bob\x1b[2J\x07\x00x")  # the NUL is dropped as it is read
        assert (reply.code, reply.text) == (331, "Password required for bob?[2J??x."), reply
        long = raw.cmd("USER " + "n" * 4000)
        assert long.code == 331 and long.text == f"Password required for {'n' * 64}….", long
        raw.login()  # the session goes on
