"""Session ids and kick notifications keep node names that hold colons and spaces whole (the
default node name is ``host:port``, with ``/N`` per worker)."""

from __future__ import annotations

from pasv.accounts.cluster_store import kick_payload, parse_kick
from pasv.server.registry import split_id


def test_a_session_id_splits_at_its_last_two_colons() -> None:
    assert split_id("ftp1.example:2121/1:0:17") == ("ftp1.example:2121/1", 0, 17)
    assert split_id("B:3:4") == ("B", 3, 4)


def test_an_id_not_of_that_form_has_no_numbers() -> None:
    for bad in ("", "B", "B:1", "B:x:1", "B:1:-2", "B:1:"):
        assert split_id(bad)[1:] == (-1, -1), bad


def test_a_kick_notification_names_its_node_and_session() -> None:
    assert parse_kick(kick_payload("host:2121/0", 9)) == ("host:2121/0", 9)
    assert parse_kick(kick_payload("a node", 1)) == ("a node", 1)


def test_other_notifications_are_not_kicks() -> None:
    for payload in ("admin API", "pasv command", "reconnected", "kick ", "kick B", "kick B x"):
        assert parse_kick(payload) is None, payload
