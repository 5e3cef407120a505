"""The shared counter table: a dict's behaviour in shared memory, across processes."""

from __future__ import annotations

import mmap
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from pasv.server.shared import LocalTable, SharedState, Table, digest


def _table(slots: int = 16) -> Table:
    return Table(mmap.mmap(-1, Table.size(slots)), 0, slots)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(-2, 2)), max_size=120))
def test_behaves_like_a_dict_of_counts(ops: list[tuple[int, int]]) -> None:
    """Keys chosen to collide (40 keys in 64 slots, clustered) so probing and backward-shift
    deletion are exercised; a delta of 0 stands for a sweep, which deletes zero counts."""
    table = _table(64)
    model: dict[int, int] = {}
    for key, delta in ops:
        if delta == 0:
            table.sweep(now=0.0)
            continue
        model[key] = model.get(key, 0) + delta
        assert table.add(key * 64 % 61 + 1, delta) == model[key]
        if model[key] == 0:
            del model[key]
        for k, v in model.items():
            assert table.get(k * 64 % 61 + 1) == v
    for k in range(1, 41):
        assert table.get(k * 64 % 61 + 1) == model.get(k, 0)


def _colliding(k: int) -> int:
    return k * 64 + k % 7 + 1  # home slot k % 7 + 1 in a table of 64


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(1, 40), min_size=1, max_size=5, unique=True), st.integers(-2, 2)
        ),
        max_size=60,
    )
)
def test_many_keys_at_once_agree_with_one_at_a_time(ops: list[tuple[list[int], int]]) -> None:
    """``add_each`` and ``counts`` (a login's keys in one call) against a model, on a table
    where keys collide (40 keys on 7 home slots of 64) and on the one-process dict; a delta of 0
    stands for a sweep, whose backward shifts move entries off their home slots."""
    tables: list[Table | LocalTable] = [_table(64), LocalTable()]
    model: dict[int, int] = {}
    everything = tuple(_colliding(k) for k in range(1, 41))
    for keys, delta in ops:
        slots = tuple(_colliding(k) for k in keys)
        if delta == 0:
            for table in tables:
                table.sweep(now=0.0)
            continue
        for table in tables:
            table.add_each(slots, delta)
        for k in keys:
            model[k] = model.get(k, 0) + delta
            if model[k] == 0:
                del model[k]
        expected = [model.get(k, 0) for k in range(1, 41)]
        for table in tables:
            assert table.counts(everything) == expected
            assert [table.get(key) for key in everything] == expected


def test_expiry_and_sweep() -> None:
    table = _table()
    table.add(digest("w:1"), 3, expiry=10.0, now=5.0)
    assert table.get(digest("w:1"), now=9.0) == 3
    assert table.get(digest("w:1"), now=10.0) == 0
    assert table.add(digest("w:1"), 1, expiry=20.0, now=11.0) == 1  # an expired value restarts
    table.add(digest("other"), 1)
    assert table.sweep(now=25.0) == 1
    assert table.get(digest("other")) == 1


def test_worker_tables_are_summed_and_wiped() -> None:
    state = SharedState(workers=2)
    key = digest("ip:192.0.2.1")
    pid = os.fork()
    if pid == 0:  # a worker: counts one session in its own table
        state.bind(1)
        with state.locked():
            state.mine.add(key, 1)
        os._exit(0)
    os.waitpid(pid, 0)
    state.bind(0)
    state.mine.add(key, 2)
    assert state.sessions(key) == 3  # the child's count is visible here
    other = digest("user:alice")
    state.count((other,), 4)
    assert state.sessions_of((key, other)) == [3, 4]
    state.wipe_worker(1)  # the supervisor, after worker 1 died
    assert state.sessions(key) == 2


def test_keys_of_the_whole_signed_range() -> None:
    """The table stores keys as signed 64-bit words: a digest is one, and the extremes of the
    range (a negative key's home slot included) count like any other key."""
    names = [f"ip:192.0.2.{n}" for n in range(256)]
    keys = [digest(name) for name in names]
    assert all(-(2**63) <= key < 2**63 and key != 0 for key in keys)
    assert any(key < 0 for key in keys)  # half of all digests are negative
    table = _table(1024)
    extremes = [-(2**63), 2**63 - 1, -1, 1, *keys]
    for n, key in enumerate(extremes):
        table.add(key, n + 1)
    table.add_each(tuple(extremes[:4]), 10)
    assert table.counts(tuple(extremes[:4])) == [11, 12, 13, 14]
    assert [table.get(key) for key in keys] == list(range(5, 5 + len(keys)))
    assert table.sweep(now=0.0) == 0
