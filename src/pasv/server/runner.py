"""Running `pasv serve`: first-start account, event loop choice, worker processes, signals."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlbase import AccountDatabase
from pasv.config import Settings
from pasv.policy.engine import Policy
from pasv.server import metrics, privsep, xferlog
from pasv.server.app import FtpServer, base_policy
from pasv.server.board import SessionBoard
from pasv.server.composition import is_shared, node_name, open_accounts, open_cluster
from pasv.server.controlsocket import listening_socket
from pasv.server.drainbarrier import DrainBarrier
from pasv.server.firstuser import create_first_user
from pasv.server.listcache import ChangeCounter
from pasv.server.metricsdir import MetricsDirectory
from pasv.server.privileges import (
    Account,
    drop,
    hand_over,
    hold,
    real_accounts_db,
    serving_account,
)
from pasv.server.setup_warnings import setup_warnings
from pasv.server.shared import SharedState
from pasv.server.tls import Certificate, locate
from pasv.server.workerstart import (
    Respawns,
    Startup,
    WorkerStartError,
    close_listeners,
    fork_worker,
    pause,
    reopen_listeners,
    worker_signals,
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


def prepare(settings: Settings, say: Callable[[str], None], as_root: bool = False) -> None:
    """Create the data directory and, with no account yet, one user with a random password;
    then say what the operator should know about this setup (once, for every worker)."""
    settings.files_root.mkdir(parents=True, exist_ok=True)
    policy: Policy | None = None

    async def ensure_user() -> None:
        nonlocal policy
        store = open_accounts(settings, nofollow=os.geteuid() == 0, origin="pasv serve")
        try:
            policy = Policy(PolicyStore(store).load(), base_policy(settings))
            await create_first_user(store, settings, say)
        finally:
            await store.close()

    asyncio.run(ensure_user())
    self_signed = False
    if settings.tls.enabled:
        cert = locate(settings)
        self_signed = cert.self_signed
        announce_certificate(cert, say)
    assert policy is not None
    for warning in setup_warnings(settings, policy, as_root=as_root, self_signed=self_signed):
        log.warning("%s", warning.text)
        say(f"Warning: {warning.text}")


def announce_certificate(cert: Certificate, say: Callable[[str], None]) -> None:
    """Where the certificate is and its fingerprint, so users can check what their client shows."""
    if cert.created:
        say(f"Created a self-signed TLS certificate: {cert.certificate}")
        say("  Clients will warn that it is not trusted; set tls.certificate and tls.key")
        say("  to a real one (e.g. from Let's Encrypt), then send SIGHUP to reload it.")
    kind = "self-signed" if cert.self_signed else "configured"
    say(f"TLS certificate ({kind}) SHA-256 fingerprint: {cert.fingerprint}")


def worker_sockets(
    settings: Settings, workers: int, port: int | None = None
) -> list[socket.socket]:
    """One listening socket per worker on one port (SO_REUSEPORT): each worker accepts from
    its own queue, so no worker is woken for a connection another one takes, and the kernel
    spreads connections evenly. Port 0 means the port the first socket was given.

    Another program's SO_REUSEPORT group on the port (a second `pasv serve` of the same user)
    would be joined silently, the kernel splitting the clients between the two servers; a socket
    bound first without SO_REUSEPORT fails there with "address already in use", as it should."""
    wanted = settings.server.port if port is None else port
    if wanted != 0:
        try:
            listening_socket(settings, port, listen=False).close()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise OSError(
                exc.errno,
                f"port {wanted} is already in use by another server (another `pasv serve`, or "
                "another FTP server); stop it or choose another port with --port",
            ) from None
    first = listening_socket(settings, port, reuse_port=True)
    socks = [first]
    try:
        bound = int(first.getsockname()[1])
        for _ in range(workers - 1):
            socks.append(listening_socket(settings, bound, reuse_port=True))
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def admin_socket(settings: Settings) -> socket.socket:
    """Bind the admin listener (before the workers fork and before privileges are dropped)."""
    host, port = settings.admin.host, settings.admin.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(
            f"the admin API cannot listen on {host} port {port}: {exc.strerror}; "
            "set admin.port, or admin.enabled = false"
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


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


def run(settings: Settings, say: Callable[[str], None], addon: Addon | None = None) -> None:
    """`pasv serve`: one process, or a supervisor of N workers (default: one per CPU core), each
    with its own listening socket on the shared port (SO_REUSEPORT).
    Started as root, the supervisor stays (it reloads the certificate for the workers) and every
    worker serves as an unprivileged user."""
    os.umask(settings.server.umask)
    account = serving_account(settings)  # PrivilegeError before anything is created
    prepare(settings, say, as_root=account is None and os.geteuid() == 0)
    extra = None
    if addon is not None and settings.admin.enabled:
        extra = (addon, admin_socket(settings))
    if account is not None:
        hand_over(settings, account)
        say(
            f"Serving as user {account.user} (uid {account.uid}), "
            f"group {account.group} (gid {account.gid})."
        )
    workers = settings.server.worker_count
    if workers == 1 and account is None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})  # until serve() handles it
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(settings, None, say, addon=extra))
        return
    _supervise(settings, say, account, extra)


def _supervise(
    settings: Settings,
    say: Callable[[str], None],
    account: Account | None,
    addon: tuple[Addon, socket.socket] | None = None,
) -> None:
    workers = settings.server.worker_count
    tls = settings.tls
    plain = worker_sockets(settings, workers)
    implicit: list[socket.socket | None] = [None] * workers
    if tls.enabled and tls.implicit:
        implicit = list(worker_sockets(settings, workers, tls.implicit_port))
    socks = list(zip(plain, implicit, strict=True))
    shared = Shared(workers, board=addon is not None)
    where = shared.open_metrics(settings, account)
    if where is not None:
        say(f"pasv metrics on http://{where}/metrics")
    try:
        _watch(settings, say, account, socks, shared, addon)
    finally:
        shared.close_metrics()


def _watch(
    settings: Settings,
    say: Callable[[str], None],
    account: Account | None,
    socks: list[tuple[socket.socket, socket.socket | None]],
    shared: Shared,
    addon: tuple[Addon, socket.socket] | None,
) -> None:
    """Start the workers, forward signals to them, and replace one that dies."""
    workers = settings.server.worker_count
    children: dict[int, int] = {}
    channels: dict[int, socket.socket] = {}  # worker index -> the parent's end (after a switch)

    def spawn(index: int) -> None:
        worker_end = None
        if account is not None:
            channels[index], worker_end = privsep.channel()
        pid = _spawn(
            settings,
            socks,
            say,
            shared,
            index,
            account,
            worker_end,
            channels,
            addon if index == 0 else None,
        )
        if worker_end is not None:
            worker_end.close()
        children[pid] = index

    for index in range(workers):
        spawn(index)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        """The workers drain (SIGTERM); SIGINT while they do stops them at once."""
        nonlocal stopping
        forward = signal.SIGINT if stopping and signum == signal.SIGINT else signal.SIGTERM
        stopping = True
        if shared.barrier is not None:
            shared.barrier.stopping()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, forward)

    def reload(signum: int, frame: object) -> None:
        if account is None:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
            return
        message = privsep.reload_message(settings, account)
        try:
            for end in channels.values():
                privsep.send(end, message)
        finally:
            for fd in message[1]:
                os.close(fd)

    respawns = Respawns()
    failed: int | None = None

    def give_up(index: int) -> bool:
        """Stop the server because worker ``index`` cannot be started; False (no replacement)."""
        nonlocal failed
        failed = index
        stop(signal.SIGTERM, None)
        return False

    def replace(index: int, pid: int, status: int) -> bool:
        """Whether worker ``index``'s replacement starts now; False when the server stops."""
        delay = respawns.delay(index, status)
        if delay is None:  # the first start failed: a replacement would fail the same way
            return give_up(index)
        if not delay:
            log.error("worker %d ended (status %d); starting a replacement", pid, status)
            return True
        ports = close_listeners(socks[index])
        log.error("worker %d could not start; trying again in %g s", index, delay)
        came = pause(delay)
        if came is not None:
            stop(came, None)
        if stopping:
            return False
        try:
            socks[index] = reopen_listeners(settings, ports)
        except OSError as exc:
            log.error("worker %d cannot listen again: %s", index, exc)
            return give_up(index)
        return True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        if shared.metrics_dir is not None:
            metrics.worker_ended(pid, shared.metrics_dir)  # its live gauges; counters stay
        if index < 0:
            continue
        if not stopping:
            shared.state.wipe_worker(index)  # its sessions ended with it (before any wait:
            if shared.board is not None:  # they must not count against the limits meanwhile)
                shared.board.clear(index)
            old = channels.pop(index, None)  # nor may a reload write to its channel
            if old is not None:
                old.close()
            if replace(index, pid, status):
                spawn(index)
                continue
        # stopping: no replacement comes, so its listeners must not stay open
        if shared.barrier is not None:  # and nobody waits for it to drain
            shared.barrier.ended(index)
        for listener in socks[index]:  # here, or the kernel would keep routing new
            if listener is not None:  # connections to a socket nobody accepts from
                listener.close()
    if failed is not None:
        raise WorkerStartError(f"worker {failed} could not start (its reason is above)")


def _spawn(
    settings: Settings,
    socks: list[tuple[socket.socket, socket.socket | None]],
    say: Callable[[str], None],
    shared: Shared,
    index: int,
    account: Account | None,
    parent: socket.socket | None,
    channels: dict[int, socket.socket],
    addon: tuple[Addon, socket.socket] | None = None,
) -> int:
    pid = fork_worker()
    if pid:
        return pid
    code = 0
    startup = Startup(index)
    shared.state.bind(index)
    try:
        for end in channels.values():  # the parent's ends: the other workers' business
            end.close()
        for other, (plain, implicit) in enumerate(socks):  # the other workers' listeners
            if other != index:
                plain.close()
                if implicit is not None:
                    implicit.close()
        sock = socks[index]
        worker_signals()
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(settings, sock, say, shared, account, parent, addon, startup))
    except BaseException as exc:
        code = startup.failed(exc)
    finally:
        sys.stdout.flush()
        os._exit(code)
