"""Retries: transient failures wait longer each time; permanent ones stop at once."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pasv.cli.main import app
from pasv.client import ClientOptions, LoginFailed, ReplyError, RetryPolicy, Target, run_session
from pasv.client.errors import ban_seconds, is_transient_reply
from pasv.protocol.replies import Reply
from tests.client.fakes import ScriptedFtp
from tests.support.live import PASSWORD, USER, start_server

POLICY = RetryPolicy(attempts=5, min_delay=0.5, factor=2.0, max_delay=60.0, jitter=0.25)


class Sleeps:
    """Stands in for asyncio.sleep: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def _target(server: ScriptedFtp) -> Target:
    return Target("127.0.0.1", server.port, "carol", "pw")


async def test_421_twice_then_success_is_retried_with_growing_delays() -> None:
    sleeps = Sleeps()
    with ScriptedFtp(busy=2) as server:
        reply = await run_session(
            _target(server), ClientOptions(), lambda c: c.command("MKD /x"), POLICY, sleep=sleeps
        )
    assert reply.code == 257
    assert server.connections == 3
    assert len(sleeps.waits) == 2
    assert POLICY.min_delay <= sleeps.waits[0] < sleeps.waits[1]


async def test_wrong_password_530_is_not_retried() -> None:
    sleeps = Sleeps()
    refusing = ScriptedFtp(pass_replies=("530 Login incorrect.",))
    with refusing as server, pytest.raises(LoginFailed) as caught:
        await run_session(_target(server), ClientOptions(), lambda c: c.pwd(), POLICY, sleep=sleeps)
    assert caught.value.code == 530
    assert server.connections == 1
    assert sleeps.waits == []


async def test_530_session_limit_is_transient() -> None:
    sleeps = Sleeps()
    limit = "530 Not logged in, only 1 session(s) from same IP allowed at a time."
    with ScriptedFtp(pass_replies=(limit, "230 Welcome.")) as server:
        reply = await run_session(
            _target(server), ClientOptions(), lambda c: c.command("MKD /y"), POLICY, sleep=sleeps
        )
    assert reply.code == 257
    assert server.connections == 2
    assert len(sleeps.waits) == 1


async def test_permanent_550_stops_at_once() -> None:
    sleeps = Sleeps()
    with ScriptedFtp() as server, pytest.raises(ReplyError) as caught:
        await run_session(
            _target(server), ClientOptions(), lambda c: c.rmdir("/nope"), POLICY, sleep=sleeps
        )
    assert caught.value.code == 550
    assert sleeps.waits == []


def test_delays_grow_are_capped_and_never_below_the_minimum() -> None:
    rng = random.Random(7)
    policy = RetryPolicy(attempts=10, min_delay=2.0, factor=3.0, max_delay=20.0, jitter=0.5)
    waits = [policy.delay(n, rng) for n in range(6)]
    assert all(w >= 2.0 for w in waits)
    assert waits[0] < waits[1] < waits[2]
    assert all(w <= 20.0 * 1.5 for w in waits)
    assert policy.delay(0, random.Random(1)) != policy.delay(0, random.Random(2))  # jitter


@pytest.mark.parametrize(
    ("text", "transient"),
    [
        ("421 Too many users - please try again later.", True),
        ("425 Can't open data connection.", True),
        ("426 Connection closed; transfer aborted.", True),
        ("450 File busy.", True),
        ("451 Local error.", True),
        ("530 Login incorrect.", False),
        ("530 Sorry, too many connections from your address.", True),
        ("550 No such file.", False),
        ("553 Prohibited file name: x", False),
    ],
)
def test_which_replies_are_transient(text: str, transient: bool) -> None:
    reply = Reply(int(text[:3]), (text[4:],))
    assert is_transient_reply(reply) is transient


def test_cli_exit_code_5_when_the_server_stays_busy() -> None:
    with ScriptedFtp(busy=100) as server:
        url = f"ftp://carol:pw@127.0.0.1:{server.port}/x"
        result = CliRunner().invoke(app, ["mkdir", url, "--retries", "2", "--retry-delay", "0"])
    assert result.exit_code == 5
    assert server.connections == 3
    assert result.stderr.count("retry") == 2
    assert "421 Too many users" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("421 Too many connection attempts from your address; banned for 15 minutes.", 900.0),
        ("421 Too many failed logins from your address; banned for 1 minute.", 60.0),
        ("530 Your host is banned for 2 hours.", 7200.0),
        ("530 Sorry, you are banned.", 0.0),
        ("421 Too many users - please try again later.", None),
        ("550 Permission denied: blocked file type.", None),
    ],
)
def test_which_replies_are_bans(text: str, seconds: float | None) -> None:
    reply = Reply(int(text[:3]), (text[4:],))
    assert ban_seconds(reply) == seconds
    if seconds is not None:
        assert not is_transient_reply(reply)


def test_a_ban_by_pasv_is_not_retried_and_says_when_it_ends(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        store = server.policy
        store.set_option("", "ban_allowlist", "")
        store.ban("127.0.0.1", 15 * 60, "Too many connection attempts from your address")
        server.reload_policy()
        url = f"ftp://{USER}:{PASSWORD}@{server.host}:{server.port}/"
        result = CliRunner().invoke(app, ["ls", url, "-v", "--retries", "3"])
    finally:
        server.stop()
    assert result.exit_code == 5, result.stderr
    assert result.stderr.count("Status:   Connecting to") == 1  # no second attempt
    assert "retry 1 of" not in result.stderr
    error = result.stderr.splitlines()[-1]
    assert re.search(r"421 Too many connection attempts .*; banned for 1[45] minutes\.", error)
    assert re.search(r"the ban ends at about \d\d:\d\d \w+, in 1[45] minutes", error), error
