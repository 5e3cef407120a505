"""CPU placement for the single-stream RETR measures: server, raw sender and client on one CPU.

On a small VM the throughput of one loopback stream whose sender and receiver run on different
CPUs swings 2-3x between identical consecutive transfers (measured here: the raw limit from 2.3
to 9.6 GB/s with the sender and the reader pinned to different CPUs, 7 transfers in a row). On
one CPU the same transfers agree within 3-5%: each figure is then the CPU cost of moving the
bytes, which is what tells a server's byte path from the raw `sendfile`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from bench.servers import tree_pids


def _set(pid: int, cpus: set[int]) -> None:
    """Every thread of one process (threads do not follow their process's affinity)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tasks:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), cpus)


def pin_trees(roots: list[int], cpus: set[int]) -> None:
    for root in roots:
        for pid in tree_pids(root):
            _set(pid, cpus)


def one_cpu_available() -> int | None:
    """The CPU to share, or None when affinity cannot be set or there is only one CPU."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    return max(allowed) if len(allowed) > 1 else None


@contextlib.contextmanager
def shared_cpu(roots: list[int], cpu: int | None) -> Iterator[None]:
    """Pin this process and the process trees of `roots` to `cpu` for the block (None: leave
    everything free), then give them all the CPUs this process had."""
    if cpu is None:
        yield
        return
    allowed = os.sched_getaffinity(0)
    pin_trees(roots, {cpu})
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
        pin_trees(roots, allowed)
