"""Every command pasv knows, with hostile arguments, out of order and pipelined, against a live
server with deny rules and hidden names (tests/server/commandfuzz.py): no malformed reply, no
internal error, no session left unusable, nothing changed on disk by a refusal.

COMMAND_FUZZ_COMMANDS and COMMAND_FUZZ_SECONDS set the budget of the long run (make soak)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.commandfuzz import OUTSIDE, fuzz, make_tree, server_errors
from tests.server.hostile.support import assert_served
from tests.server.policy.rules import rule
from tests.support.live import LiveServer, start_server


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[LiveServer]:
    """A server whose tree has a denied directory, a read-only one and hidden names."""
    live = start_server(
        tmp_path / "data", login={"failure_delay": 0}, timeouts={"data_connect": 2.0}
    )
    make_tree(live.files)
    (live.files.parent / OUTSIDE).write_bytes(b"never reached")
    live.policy.add_rule(rule("deny", "/secret", "ALL"))
    live.policy.add_rule(rule("deny", "/ro", "write"))
    live.policy.set_option("", "hidden_names", ".ht*, private")
    live.reload_policy()
    yield live
    live.stop()


def _run(live: LiveServer, start: int, commands: int, seconds: float) -> None:
    other = live.login()
    outside = (live.files.parent / OUTSIDE).stat()
    with server_errors() as errors:
        fuzzer = fuzz(live, start, commands, seconds)
    assert not fuzzer.problems, f"run {start}:\n" + "\n".join(fuzzer.problems[:20])
    assert not errors, "\n".join(errors[:5])
    assert fuzzer.sent >= min(commands, 200)  # the run got somewhere
    assert other.voidcmd("NOOP").startswith("200")  # the bystander's session is untouched
    assert (live.files.parent / OUTSIDE).stat().st_mtime_ns == outside.st_mtime_ns
    assert live.thread.is_alive()
    assert_served(live)


@pytest.mark.parametrize("start", [1, 2])
def test_hostile_commands_are_refused_cleanly(guarded: LiveServer, start: int) -> None:
    _run(guarded, start, commands=1000, seconds=30)


_LONG_COMMANDS = int(os.environ.get("COMMAND_FUZZ_COMMANDS", "50000"))
_LONG_SECONDS = float(os.environ.get("COMMAND_FUZZ_SECONDS", "600"))


@pytest.mark.slow
@pytest.mark.timeout(_LONG_SECONDS + 120)  # beyond the suite's 120 s per test
def test_hostile_commands_long_run(guarded: LiveServer) -> None:
    _run(guarded, int.from_bytes(os.urandom(4)), _LONG_COMMANDS, _LONG_SECONDS)
