"""One process serving FTP: its server, listeners, signals, drain and the admin add-on."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from pasv.accounts.sqlbase import AccountDatabase
from pasv.config import Settings
from pasv.server import metrics, privsep, xferlog
from pasv.server.app import FtpServer
from pasv.server.board import SessionBoard
from pasv.server.composition import is_shared, node_name, open_accounts, open_cluster
from pasv.server.drainbarrier import DrainBarrier
from pasv.server.listcache import ChangeCounter
from pasv.server.metricsdir import MetricsDirectory
from pasv.server.privileges import (
    Account,
    drop,
    hold,
    real_accounts_db,
)
from pasv.server.shared import SharedState
from pasv.server.workerstart import (
    Startup,
)

log = logging.getLogger("pasv.server")

# Something served beside FTP by one process (worker 0): the admin API. Given the server, the
# admin listening socket and its own connection to the account store (opened, like the server's,
# before the switch to the serving user), it starts and returns the coroutine function that
# stops it (and closes that connection).
Addon = Callable[
    [FtpServer, socket.socket, AccountDatabase, Callable[[str], None]],
    Awaitable[Callable[[], Awaitable[None]]],
]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when it is installed, else the standard loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class Shared:
    """What the supervisor makes before forking, for all its workers."""

    def __init__(self, workers: int, board: bool = False) -> None:
        # live sessions of every worker, for the admin API in worker 0
        self.board = SessionBoard(workers) if board and workers > 1 else None
        self.changes = ChangeCounter()  # a write in one worker invalidates every listing cache
        self.policy_changes = ChangeCounter()  # a ban made in one worker reloads them all
        self.state = SharedState(workers)  # session counts, rate windows, bandwidth buckets
        # drained workers keep answering 421 until every worker has drained
        self.barrier = DrainBarrier(workers) if workers > 1 else None
        self.metrics_files: MetricsDirectory | None = None  # every worker's values, a file each
        self.metrics_dir: Path | None = None
        self.metrics_socket: socket.socket | None = None  # /metrics, answered by any worker

    def open_metrics(self, settings: Settings, account: Account | None) -> str | None:
        """The per-run metrics directory and the telemetry socket, before the workers fork;
        where /metrics is served (None when off or when the port cannot be bound)."""
        if not settings.metrics.enabled:
            return None
        self.metrics_files = MetricsDirectory()
        self.metrics_dir = self.metrics_files.path
        if account is not None:
            self.metrics_files.chown(account.uid, account.gid)
        metrics.use_directory(self.metrics_dir)
        host, port = settings.metrics.address
        try:
            self.metrics_socket = socket.create_server(
                (host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET
            )
        except OSError as exc:
            log.error("cannot serve metrics on %s: %s", settings.metrics.listen, exc.strerror)
            return None
        self.metrics_socket.setblocking(False)
        bound = self.metrics_socket.getsockname()
        return f"[{bound[0]}]:{bound[1]}" if ":" in bound[0] else f"{bound[0]}:{bound[1]}"

    def close_metrics(self) -> None:
        if self.metrics_socket is not None:
            self.metrics_socket.close()
        if self.metrics_files is not None:
            self.metrics_files.remove()


class StopSignals:
    """SIGTERM or SIGINT starts the drain; SIGINT while draining (Ctrl-C twice) cuts it short.
    SIGTERM again changes nothing (a supervisor or systemd may send it to every process)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.drain = asyncio.Event()
        self.now = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, self.drain.set)
        loop.add_signal_handler(signal.SIGINT, self._interrupt)

    def _interrupt(self) -> None:
        if self.drain.is_set():
            self.now.set()
        self.drain.set()


async def serve(
    settings: Settings,
    socks: tuple[socket.socket, socket.socket | None] | None,
    say: Callable[[str], None],
    shared: Shared | None = None,
    account: Account | None = None,
    parent: socket.socket | None = None,
    addon: tuple[Addon, socket.socket] | None = None,
    startup: Startup | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then drain ([drain]); SIGHUP reloads the TLS certificate
    and reopens the transfer log. With ``account``, everything that needs root is opened first
    (the data directory, the account database, the certificate and key, the transfer log), then
    the process becomes that user before it accepts a client; the parent sends reloads over
    ``parent``. ``startup`` is told when the worker serves (its failures from then on are no
    longer failures to start)."""
    worker = shared.state.index if shared is not None and settings.server.worker_count > 1 else None
    origin = node_name(settings, worker)
    sqlite_path = None if account is None or is_shared(settings) else real_accounts_db(settings)

    def store(origin: str) -> AccountDatabase:
        """As root, in a directory the serving user owns: no symbolic link is followed, and
        the database is named by its host path (the held one below is not SQLite's to open)."""
        nofollow = account is not None
        return open_accounts(settings, sqlite_path=sqlite_path, nofollow=nofollow, origin=origin)

    accounts = store(origin)
    addon_accounts = store("admin API") if addon is not None else None
    if account is not None:
        settings = hold(settings, account)
    cluster = open_cluster(settings, accounts, origin)
    if shared is None:
        server = FtpServer(settings, accounts, cluster=cluster)
    else:
        server = FtpServer(
            settings,
            accounts,
            shared.changes,
            shared.state,
            shared.policy_changes,
            cluster=cluster,
            board=shared.board,
        )
    stop_addon: Callable[[], Awaitable[None]] | None = None
    try:
        if addon is not None:  # the admin API's audit log: opened (as root) before the switch
            server.audit_fd = xferlog.open_read_back(settings.audit_log_path, "audit log")
        if account is not None:
            drop(account)
        plain, implicit = socks if socks is not None else (None, None)
        bound = await server.start(
            [plain] if plain is not None else None,
            [implicit] if implicit is not None else None,
            shared.metrics_socket if shared is not None else None,
        )
        low, high = settings.passive.ports
        for host, port in bound:
            say(
                f"pasv listening on {host} port {port} "
                f"(passive ports {low}-{high}, pid {os.getpid()})"
            )
        for host, port in server.implicit_addresses:
            say(f"pasv listening for implicit FTPS (ftps://) on {host} port {port}")
        if shared is None and server.metrics_address is not None:
            mhost, mport = server.metrics_address
            shown = f"[{mhost}]" if ":" in mhost else mhost
            say(f"pasv metrics on http://{shown}:{mport}/metrics")
        if cluster is not None:
            host, port = bound[0]
            await cluster.start(server, f"{host}:{port}")
            say(f"pasv node {cluster.node} joined the cluster (heartbeat {cluster.heartbeat:g}s)")
        if addon is not None:
            assert addon_accounts is not None
            stop_addon = await addon[0](server, addon[1], addon_accounts, say)
            addon_accounts = None  # the add-on's now: its stop closes it
        loop = asyncio.get_running_loop()
        stop = StopSignals(loop)
        if parent is None:
            loop.add_signal_handler(signal.SIGHUP, server.reload)
        else:  # only the privileged parent can read the key: it sends what it read
            loop.add_signal_handler(signal.SIGHUP, lambda: None)
            parent.setblocking(False)

            def from_parent() -> None:
                if not privsep.receive(parent, server):
                    loop.remove_reader(parent.fileno())

            loop.add_reader(parent.fileno(), from_parent)
        # a SIGHUP held since the start (fork_worker, run) is delivered now: its reload happens
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        if startup is not None:
            startup.served()
        await stop.drain.wait()
        await server.drain(stop.now)
        if shared is not None and shared.barrier is not None:
            await shared.barrier.drained(shared.state.index, stop.now)
    finally:
        if stop_addon is not None:
            await stop_addon()
        if addon_accounts is not None:  # the add-on never started
            await addon_accounts.close()
        await server.close()
        if cluster is not None:
            await cluster.close()
        await accounts.close()
