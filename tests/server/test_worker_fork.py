"""A worker is forked with the supervisor's objects frozen: its collector walks only what the
worker itself makes, so its collections copy none of the inherited pages."""

from __future__ import annotations

import gc
import json
import os

from pasv.server.workerstart import fork_worker


def test_a_worker_starts_with_the_inherited_objects_out_of_the_collectors_way() -> None:
    built = [{"setting": i} for i in range(20_000)]  # what a supervisor holds when it forks
    tracked_before = len(gc.get_objects())
    read, write = os.pipe()
    try:
        pid = fork_worker()
        if pid == 0:  # the worker: report what its collector sees, and end
            gc.collect()
            seen = {"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}
            os.write(write, json.dumps(seen).encode())
            os._exit(0)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        report = json.loads(os.read(read, 4096))
    finally:
        gc.unfreeze()  # this test process is no supervisor
        os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report["frozen"] >= len(built) + tracked_before // 2
    assert report["tracked"] < tracked_before // 10, report
