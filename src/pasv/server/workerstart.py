"""A worker that cannot start is told apart from one that served and then died.

At the first start of `pasv serve`, a worker that fails before it serves (an unreachable
account store, a database the serving user may not open, a port taken) stops the whole server
with its reason: replacing it would only fail the same way, many times a second. A replacement
started after a crash that cannot start is retried, less and less often (1, 2, 4 … 30 s), while
the other workers serve; one that served and then died is replaced at once, as before.

A worker is forked with SIGHUP held until it handles it (a reload sent while it starts happens
once it does), and without the supervisor's signal handlers."""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sqlite3

from pasv.accounts.base import AccountError
from pasv.config import Settings
from pasv.server.controlsocket import listening_socket
from pasv.server.privileges import PrivilegeError
from pasv.server.tls import CertificateError

log = logging.getLogger("pasv.server")

STARTUP_FAILED = 3  # a worker's exit status: it failed before it served a client
MAX_DELAY = 30.0  # seconds between attempts to start a replacement that keeps failing
# what a configuration or the host can cause: said in one line, without a traceback
START_ERRORS = (OSError, sqlite3.Error, AccountError, CertificateError, PrivilegeError)


class WorkerStartError(RuntimeError):
    """A worker of the first start could not start: `pasv serve` stops."""


class Startup:
    """In a worker: whether it got as far as serving, and its exit status when it fails."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.serving = False

    def served(self) -> None:
        self.serving = True

    def failed(self, exc: BaseException) -> int:
        """Log the failure; the worker's exit status."""
        if self.serving:
            log.error("worker %d failed", self.index, exc_info=exc)
            return 1
        if isinstance(exc, START_ERRORS):
            log.error("worker %d could not start: %s", self.index, exc)
        else:
            log.error("worker %d could not start", self.index, exc_info=exc)
        return STARTUP_FAILED


class Respawns:
    """In the supervisor: what to do when a worker ends while the server is not stopping."""

    def __init__(self) -> None:
        self._replaced: set[int] = set()
        self._failures: dict[int, int] = {}

    def delay(self, index: int, status: int) -> float | None:
        """Seconds to wait before worker ``index``'s replacement starts; None: it failed at
        the first start, and the server must stop."""
        if os.waitstatus_to_exitcode(status) != STARTUP_FAILED:
            self._failures.pop(index, None)
            self._replaced.add(index)
            return 0.0
        if index not in self._replaced:
            return None
        failures = self._failures.get(index, 0) + 1
        self._failures[index] = failures
        return min(MAX_DELAY, 2.0 ** (failures - 1))


_STOPS = {signal.SIGINT, signal.SIGTERM}
_HELD = {signal.SIGHUP, *_STOPS}


def fork_worker() -> int:
    """``os.fork()``, with what the supervisor built (modules, settings, the store) moved first
    to a generation the collector never walks: a worker's collections would otherwise write to
    every inherited object and so copy every inherited page (copy-on-write), about 50 MiB per
    worker.

    SIGHUP, SIGINT and SIGTERM are blocked across the fork: a new worker must never run the
    supervisor's handlers it inherits (they would signal its siblings and mark the server
    stopping). The supervisor's own come the moment the fork returns; the worker sets them to
    their default and lets the stops come (a worker still starting ends at once, until serve()
    handles them: worker_signals), but keeps SIGHUP pending until serve() handles it, so a
    reload sent meanwhile is not lost (its default action would end the worker)."""
    gc.freeze()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return pid


def worker_signals() -> None:
    """In a new worker: no handler of the supervisor's, SIGINT and SIGTERM let through (their
    default action), SIGHUP held until serve() installs its handler."""
    for signum in _HELD:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)


def pause(seconds: float) -> int | None:
    """Wait ``seconds`` unless SIGINT or SIGTERM comes first; the signal that came, if any
    (taken here, so the caller acts on it as its handler would)."""
    stops = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        info = signal.sigtimedwait(stops, seconds)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    return None if info is None else info.si_signo


Listeners = tuple[socket.socket, socket.socket | None]  # a worker's plain and implicit-TLS ones


def close_listeners(listeners: Listeners) -> tuple[int, int | None]:
    """Close a worker's listeners while it has no replacement: the kernel would go on queueing
    a share of the new clients on them, and nobody would accept those. Their ports."""
    plain, implicit = listeners
    ports = (
        int(plain.getsockname()[1]),
        None if implicit is None else int(implicit.getsockname()[1]),
    )
    plain.close()
    if implicit is not None:
        implicit.close()
    return ports


def reopen_listeners(settings: Settings, ports: tuple[int, int | None]) -> Listeners:
    """Listeners for a replacement, in the same SO_REUSEPORT groups as the other workers'."""
    plain = listening_socket(settings, ports[0], reuse_port=True)
    if ports[1] is None:
        return plain, None
    try:
        return plain, listening_socket(settings, ports[1], reuse_port=True)
    except BaseException:
        plain.close()
        raise
