"""QuotaWatch: the uploads of one user share its room, in one process and across workers."""

from __future__ import annotations

import pytest

from pasv.protocol.errors import QuotaExceeded
from pasv.server.metering import QuotaWatch
from pasv.server.shared import SharedState


@pytest.mark.parametrize("workers", [1, 2])
def test_uploads_in_two_workers_share_one_room(workers: int) -> None:
    shared = SharedState(workers)
    shared.bind(0)
    first = QuotaWatch(shared, "alice", "full")
    first.arm(100)
    shared.bind(workers - 1)  # the other worker's table (the same one with one process)
    second = QuotaWatch(shared, "alice", "full")
    second.arm(100)
    assert first.add(60) == 60
    assert second.add(60) == 40  # the room is shared: 40 left, the rest does not fit
    assert second.exceeded
    second.close()  # stopped and removed: nothing recorded
    first.close(60)  # whole: 60 bytes recorded in the usage
    shared.bind(0)
    third = QuotaWatch(shared, "alice", "full")
    third.arm(100 - 60)  # the usage read after the watch was made holds the 60
    assert third.add(50) == 40
    third.close()


def test_an_upload_that_ended_still_counts_for_those_running() -> None:
    shared = SharedState(2)
    shared.bind(0)
    running = QuotaWatch(shared, "alice", "full")
    running.arm(100)  # armed when nothing was used yet
    shared.bind(1)
    done = QuotaWatch(shared, "alice", "full")
    done.arm(100)
    assert done.add(90) == 90
    done.close(90)  # recorded: no longer in flight, but in the usage
    shared.bind(0)
    assert running.add(20) == 10
    with pytest.raises(QuotaExceeded):
        QuotaWatch(shared, "bob", "full").arm(0)
    blocked = QuotaWatch(shared, "alice", "full")
    with pytest.raises(QuotaExceeded):
        blocked.arm(100 - 90)  # the running upload's 10 bytes fill what is left
    running.close()


def test_other_users_do_not_share() -> None:
    shared = SharedState()
    alice, bob = QuotaWatch(shared, "alice", "full"), QuotaWatch(shared, "bob", "full")
    alice.arm(10)
    bob.arm(10)
    assert alice.add(10) == 10
    assert bob.add(10) == 10
    alice.close()
    bob.close()
