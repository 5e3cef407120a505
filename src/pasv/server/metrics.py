"""The server's Prometheus metrics: counted where things happen, gauges sampled from live state.

One process: a plain registry. ``--workers N``: prometheus-client's multiprocess mode in a
directory made per run by the supervisor (``use_directory``), so whichever worker answers a
scrape sums every worker's values, and a dead worker's counters are kept (docs/observability.md).
"""

from __future__ import annotations

import bisect
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

if TYPE_CHECKING:
    from pasv.server.app import FtpServer

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
SESSION_STATES = ("connected", "logged_in", "transferring")


def use_directory(path: Path) -> None:
    """Before any metric exists: keep values in per-process files under ``path`` (every worker
    forked after this call writes its own). prometheus-client finds the directory through the
    environment variable it documents; this is the one place pasv sets it."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def worker_ended(pid: int, path: Path) -> None:
    """The supervisor, after a worker died: drop its live gauges (its counters stay counted)."""
    mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def multiprocess() -> bool:
    return bool(getattr(values.ValueClass, "_multiprocess", False))


class Metrics:
    """Every metric of one server process, with the label children the hot paths use."""

    def __init__(self) -> None:
        self.registry = own = CollectorRegistry(auto_describe=True)
        self.shared = multiprocess()
        self.sessions = Gauge(
            "pasv_sessions",
            "Control connections now, by state.",
            ["state"],
            registry=own,
            multiprocess_mode="livesum",
        )
        self.logins = Counter("pasv_logins", "Successful logins.", registry=own)
        self.login_failures = Counter(
            "pasv_login_failures", "Refused logins, by reason.", ["reason"], registry=own
        )
        self.refusals = Counter(
            "pasv_refusals",
            "Refusals sent to clients, by reply code and refusal class.",
            ["code", "class"],
            registry=own,
        )
        self.bans_active = Gauge(
            "pasv_bans_active",
            "Addresses banned now.",
            registry=own,
            multiprocess_mode="livemax",
        )
        self.bans = Counter("pasv_bans_issued", "Bans issued.", ["reason"], registry=own)
        self.bytes = Counter(
            "pasv_transfer_bytes", "Bytes moved on data connections.", ["direction"], registry=own
        )
        self.bytes_in, self.bytes_out = self.bytes.labels("in"), self.bytes.labels("out")
        self.duration = Histogram(
            "pasv_transfer_duration_seconds",
            "Duration of file transfers from the 150 reply to the final one, by direction "
            "and result.",
            ["direction", "result"],
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self._durations = {
            (d, c): self.duration.labels("in" if d == "i" else "out", "complete" if c else "failed")
            for d in ("i", "o")
            for c in (True, False)
        }
        self.passive_ports = Gauge(
            "pasv_passive_ports_in_use",
            "Passive ports held by sessions (listening or connected).",
            registry=own,
            multiprocess_mode="livesum",
        )
        self.data_failures = Counter(
            "pasv_data_connection_failures",
            "Data connections that failed, by kind.",
            ["kind"],
            registry=own,
        )
        self.quota = Counter("pasv_quota_reached", "Transfers refused by a quota.", registry=own)
        self.deletes = Counter("pasv_files_deleted", "Files deleted (DELE).", registry=own)
        self.hook_deliveries = Counter(
            "pasv_hook_deliveries",
            "Event deliveries to hooks, by hook and result (ok, failed, dropped).",
            ["hook", "result"],
            registry=own,
        )
        self.hook_attempts = Counter(
            "pasv_hook_attempts_failed",
            "Failed attempts to deliver an event (each retry counts).",
            ["hook"],
            registry=own,
        )
        self._children = {state: self.sessions.labels(state) for state in SESSION_STATES}
        # Finished transfers are added up here and written to the metric values when a scrape
        # (or the once-a-second sample of a worker of several) comes: an increment of a shared
        # value takes a lock, a pid check and a write into its file, three per transfer.
        self._bytes_due = {"i": 0, "o": 0}
        self._seconds_due: dict[tuple[str, bool], float] = {}  # the sum of the durations
        self._buckets_due: dict[tuple[str, bool], list[int]] = {}  # counts per bucket

    # --- counted where it happens ---------------------------------------------------------
    def transfer(self, direction: str, size: int, seconds: float, complete: bool) -> None:
        """One finished transfer (called once at its end; nothing per chunk)."""
        self._bytes_due[direction] += size
        key = (direction, complete)
        self._seconds_due[key] = self._seconds_due.get(key, 0.0) + seconds
        counts = self._buckets_due.get(key)
        if counts is None:
            counts = self._buckets_due[key] = [0] * (len(DURATION_BUCKETS) + 1)
        counts[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1  # buckets are "<= bound"

    def flush(self) -> None:
        """Write the transfers added up since the last flush into the metric values."""
        for direction, size in self._bytes_due.items():
            if size:
                (self.bytes_in if direction == "i" else self.bytes_out).inc(size)
                self._bytes_due[direction] = 0
        seconds, self._seconds_due = self._seconds_due, {}
        buckets, self._buckets_due = self._buckets_due, {}
        for key, total in seconds.items():
            child = self._durations[key]
            # Histogram.observe once per bucket: the same sum and per-bucket counts as one
            # observe per transfer (prometheus-client keeps buckets non-cumulative)
            child._sum.inc(total)
            for index, count in enumerate(buckets[key]):
                if count:
                    child._buckets[index].inc(count)

    def refused(self, code: int, kind: str) -> None:
        self.refusals.labels(str(code), kind).inc()

    def hook_result(self, hook: str, result: str) -> None:
        """One event handed to a hook: ok, failed or dropped."""
        self.hook_deliveries.labels(hook, result).inc()

    def hook_attempt_failed(self, hook: str) -> None:
        self.hook_attempts.labels(hook).inc()

    # --- sampled --------------------------------------------------------------------------
    def sample(self, server: FtpServer) -> None:
        """Set the gauges from this process's live state (before a scrape, and every second
        in a worker of several, so the others' scrapes see it)."""
        self.flush()
        counts = dict.fromkeys(SESSION_STATES, 0)
        for control in server.sessions:
            session = control.session
            if session.transfer is not None:
                counts["transferring"] += 1
            elif session.user is not None:
                counts["logged_in"] += 1
            else:
                counts["connected"] += 1
        for state, child in self._children.items():
            child.set(counts[state])
        self.passive_ports.set(len(server.passive_pool.in_use))
        now = time.time()
        self.bans_active.set(sum(1 for ban in server.gate.bans.values() if ban.until > now))

    def exposition(self, server: FtpServer, accept: str = "") -> tuple[bytes, str]:
        """What a scrape gets, and its content type (the Prometheus text format, or OpenMetrics
        when the scraper's Accept header asks for it): this process's values, or every
        worker's summed."""
        self.sample(server)
        encoder, content_type = choose_encoder(accept)
        if not self.shared:
            return encoder(self.registry), content_type
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return encoder(merged), content_type
