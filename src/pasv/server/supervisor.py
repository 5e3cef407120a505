"""The supervisor of `pasv serve`'s workers: their listeners, forks, signals and replacements."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable

from pasv.config import Settings
from pasv.server import metrics, privsep
from pasv.server.controlsocket import listening_socket
from pasv.server.privileges import (
    Account,
)
from pasv.server.serving import Addon, Shared, loop_factory, serve
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


def supervise(
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
