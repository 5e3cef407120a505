"""The cluster tables on a real PostgreSQL: admissions that race, silent nodes given up, locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from tests.accounts.test_stores import CountingHasher

from pasv.accounts.cluster_store import ClusterCounts, ClusterStore, SessionBeat
from pasv.accounts.postgres import PostgresAccountStore


class Refused(Exception):
    pass


@pytest.fixture
def cluster(pg_url: str) -> Iterator[ClusterStore]:
    db = PostgresAccountStore(pg_url, CountingHasher(), pool_size=10)
    store = ClusterStore(db, dead_after=5.0)
    yield store
    db._close()


def _one_per_ip(counts: ClusterCounts) -> None:
    if counts.same_ip >= 1:
        raise Refused


def _silence(store: ClusterStore, node: str) -> None:
    """Make a node look silent for an hour (as a crashed one is)."""
    store.db.run(
        lambda tx: tx.execute(
            "UPDATE nodes SET heartbeat = now() - interval '1 hour' WHERE id = ?", (node,)
        ),
        notify=False,
    )


def test_racing_admissions_on_many_nodes_admit_exactly_one(cluster: ClusterStore) -> None:
    nodes = [f"node-{i}" for i in range(8)]
    for node in nodes:
        cluster.join(node, "127.0.0.1:21", 1)
    start = threading.Barrier(len(nodes))
    results: list[bool] = []

    def admit(node: str) -> None:
        start.wait(10)
        try:
            cluster.admit(node, 1, "alice", (), "192.0.2.1", time.time(), _one_per_ip)
            results.append(True)
        except Refused:
            results.append(False)

    threads = [threading.Thread(target=admit, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False] * 7 + [True]
    assert len(cluster.sessions()) == 1


def test_counts_cover_every_node_and_group(cluster: ClusterStore) -> None:
    cluster.join("a", "127.0.0.1:21", 1)
    cluster.join("b", "127.0.0.1:22", 2)
    cluster.admit("a", 1, "alice", ("staff",), "192.0.2.1", time.time(), None)
    cluster.admit("b", 7, "bob", ("staff", "ops"), "192.0.2.2", time.time(), None)
    seen: list[ClusterCounts] = []
    cluster.admit("b", 8, "alice", ("staff", "ops"), "192.0.2.1", time.time(), seen.append)
    assert seen == [ClusterCounts(2, 1, 1, {"staff": 2, "ops": 1})]
    rows = {(s.node, s.session): s for s in cluster.sessions()}
    assert set(rows) == {("a", 1), ("b", 7), ("b", 8)}
    assert rows["b", 7].groups == ("staff", "ops") and rows["b", 7].address == "192.0.2.2"
    cluster.release("b", 8)
    assert {(s.node, s.session) for s in cluster.sessions()} == {("a", 1), ("b", 7)}


def test_a_silent_node_loses_its_sessions_and_locks_to_the_next_admission(
    cluster: ClusterStore,
) -> None:
    cluster.join("a", "127.0.0.1:21", 1)
    cluster.join("b", "127.0.0.1:22", 2)
    cluster.admit("a", 1, "alice", (), "192.0.2.1", time.time(), _one_per_ip)
    assert cluster.claim("a", 1, "/srv/files/same.bin")
    assert not cluster.claim("b", 5, "/srv/files/same.bin")
    with pytest.raises(Refused):
        cluster.admit("b", 5, "alice", (), "192.0.2.1", time.time(), _one_per_ip)
    _silence(cluster, "a")
    reaped = cluster.admit("b", 5, "alice", (), "192.0.2.1", time.time(), _one_per_ip)
    assert [(r.node, r.sessions, r.locks) for r in reaped] == [("a", 1, 1)]
    assert cluster.claim("b", 5, "/srv/files/same.bin")
    assert [n.id for n in cluster.nodes()] == ["b"]


def test_a_lock_held_by_a_silent_node_is_taken_over(cluster: ClusterStore) -> None:
    cluster.join("a", "127.0.0.1:21", 1)
    cluster.join("b", "127.0.0.1:22", 2)
    assert cluster.claim("a", 1, "/f")
    _silence(cluster, "a")
    assert cluster.claim("b", 2, "/f")
    cluster.unclaim("b", "/f")
    assert cluster.claim("b", 3, "/f")


def test_the_heartbeat_mends_rows_and_reports_silent_nodes(cluster: ClusterStore) -> None:
    cluster.join("a", "127.0.0.1:21", 1)
    cluster.join("b", "127.0.0.1:22", 2)
    cluster.admit("a", 1, "alice", (), "192.0.2.1", time.time(), None)
    cluster.admit("a", 2, "bob", (), "192.0.2.2", time.time(), None)
    cluster.claim("a", 2, "/left-behind")
    live = [SessionBeat(1, "alice", (), "192.0.2.1", time.time(), "STOR /x", "STOR /x: 5 bytes")]
    others, reaped = cluster.beat("a", "127.0.0.1:21", 1, 3, live, [])
    assert (others, reaped) == (0, [])
    rows = cluster.sessions()
    assert [(s.session, s.command, s.transfer) for s in rows] == [
        (1, "STOR /x", "STOR /x: 5 bytes")
    ]
    assert cluster.claim("b", 9, "/left-behind")  # the lock a lost release left went with the beat
    others, _ = cluster.beat("b", "127.0.0.1:22", 2, 4, [], [("/left-behind", 9)])
    assert others == 3  # node a's connections, as of its beat
    _silence(cluster, "a")
    _, reaped = cluster.beat("b", "127.0.0.1:22", 2, 4, [], [("/left-behind", 9)])
    assert [(r.node, r.sessions) for r in reaped] == [("a", 1)]
    # node a was given up while it was only slow: its next beat brings its rows back
    cluster.beat("a", "127.0.0.1:21", 1, 1, live, [])
    assert [(s.node, s.session, s.user) for s in cluster.sessions()] == [("a", 1, "alice")]


def test_no_node_is_silent_for_a_process_that_was_out_of_touch(cluster: ClusterStore) -> None:
    """After an outage every node's last beat is old: the first node back must not give the
    others up (their running uploads would lose their locks) before it has heard them."""
    cluster.join("a", "127.0.0.1:21", 1)
    cluster.join("b", "127.0.0.1:22", 2)
    cluster.admit("a", 1, "alice", (), "192.0.2.1", time.time(), None)
    assert cluster.claim("a", 1, "/f")
    _silence(cluster, "a")  # a's beat is an hour old, as after a long outage
    cluster.out_of_touch()  # b has just lost the database, or has only just started
    assert not cluster.claim("b", 2, "/f")
    assert cluster.uploading("b", "/f")
    with pytest.raises(Refused):
        cluster.admit("b", 2, "alice", (), "192.0.2.1", time.time(), _one_per_ip)
    assert cluster.beat("b", "127.0.0.1:22", 2, 0, [], [])[1] == []
    assert [n.id for n in cluster.nodes()] == ["a", "b"]
    assert not cluster.claim("b", 2, "/f")  # b's beat got through: a silent from there on only
    live = [SessionBeat(1, "alice", (), "192.0.2.1", time.time(), "STOR /f", "")]
    cluster.beat("a", "127.0.0.1:21", 1, 1, live, [("/f", 1)])  # a beats when it can
    assert [(s.node, s.session) for s in cluster.sessions()] == [("a", 1)]  # nothing was lost
    _silence(cluster, "a")
    cluster.heard_since = None  # judged by the heartbeats alone: a is dead and its lock free
    assert cluster.claim("b", 2, "/f")
