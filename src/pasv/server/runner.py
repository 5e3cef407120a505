"""Running `pasv serve`: first-start account, event loop choice, worker processes, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable

from pasv.accounts.sqlite import SqliteAccountStore
from pasv.config import Settings
from pasv.server.app import FtpServer
from pasv.server.listcache import ChangeCounter
from pasv.server.shared import SharedState
from pasv.server.tls import Certificate, locate

log = logging.getLogger("pasv.server")

FIRST_USER = "pasv"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when it is installed, else the standard loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def prepare(settings: Settings, say: Callable[[str], None]) -> None:
    """Create the data directory and, with no account yet, one user with a random password."""
    settings.files_root.mkdir(parents=True, exist_ok=True)

    async def ensure_user() -> None:
        store = SqliteAccountStore(settings.accounts_db)
        try:
            if await store.count() == 0:
                password = secrets.token_urlsafe(12)
                await store.add(FIRST_USER, password)
                host = settings.server.host or "127.0.0.1"
                shown = f"[{host}]" if ":" in host else host
                say(f"Created the first user {FIRST_USER!r}; its password is shown only this once:")
                say(f"  ftp://{FIRST_USER}:{password}@{shown}:{settings.server.port}/")
                say("Manage users with: pasv user add|del|passwd|list|show")
        finally:
            await store.close()

    asyncio.run(ensure_user())
    if settings.tls.enabled:
        announce_certificate(locate(settings), say)


def announce_certificate(cert: Certificate, say: Callable[[str], None]) -> None:
    """Where the certificate is and its fingerprint, so users can check what their client shows."""
    if cert.created:
        say(f"Created a self-signed TLS certificate: {cert.certificate}")
        say("  Clients will warn that it is not trusted; set tls.certificate and tls.key")
        say("  to a real one (e.g. from Let's Encrypt), then send SIGHUP to reload it.")
    kind = "self-signed" if cert.self_signed else "configured"
    say(f"TLS certificate ({kind}) SHA-256 fingerprint: {cert.fingerprint}")


def listening_socket(settings: Settings, port: int | None = None) -> socket.socket:
    """One listening socket for all workers: the configured address, or dual-stack '::'."""
    cfg = settings.server
    port = cfg.port if port is None else port
    host = cfg.host
    if host is None:
        family, host = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and cfg.host is None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((host, port))
    sock.listen(cfg.backlog)
    sock.setblocking(False)
    return sock


class Shared:
    """What the supervisor makes before forking, for all its workers."""

    def __init__(self, workers: int) -> None:
        self.changes = ChangeCounter()  # a write in one worker invalidates every listing cache
        self.policy_changes = ChangeCounter()  # a ban made in one worker reloads them all
        self.state = SharedState(workers)  # session counts, rate windows, bandwidth buckets


async def serve(
    settings: Settings,
    socks: tuple[socket.socket, socket.socket | None] | None,
    say: Callable[[str], None],
    shared: Shared | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM; SIGHUP reloads the TLS certificate."""
    accounts = SqliteAccountStore(settings.accounts_db)
    if shared is None:
        server = FtpServer(settings, accounts)
    else:
        server = FtpServer(settings, accounts, shared.changes, shared.state, shared.policy_changes)
    try:
        plain, implicit = socks if socks is not None else (None, None)
        bound = await server.start(
            [plain] if plain is not None else None, [implicit] if implicit is not None else None
        )
        low, high = settings.passive.ports
        for host, port in bound:
            say(
                f"pasv listening on {host} port {port} "
                f"(passive ports {low}-{high}, pid {os.getpid()})"
            )
        for host, port in server.implicit_addresses:
            say(f"pasv listening for implicit FTPS (ftps://) on {host} port {port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, server.reload_tls)
        await stop.wait()
    finally:
        await server.close()
        await accounts.close()


def run(settings: Settings, say: Callable[[str], None]) -> None:
    """`pasv serve`: one process, or a supervisor of N workers sharing one listening socket."""
    prepare(settings, say)
    workers = settings.server.workers
    if workers == 1:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(settings, None, say))
        return
    tls = settings.tls
    implicit = (
        listening_socket(settings, tls.implicit_port) if tls.enabled and tls.implicit else None
    )
    sock = (listening_socket(settings), implicit)
    shared = Shared(workers)
    children: dict[int, int] = {}
    for index in range(workers):
        children[_spawn(settings, sock, say, shared, index)] = index
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def reload(signum: int, frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        if not stopping and index >= 0:
            log.error("worker %d ended (status %d); starting a replacement", pid, status)
            shared.state.wipe_worker(index)  # its sessions ended with it
            children[_spawn(settings, sock, say, shared, index)] = index


def _spawn(
    settings: Settings,
    sock: tuple[socket.socket, socket.socket | None],
    say: Callable[[str], None],
    shared: Shared,
    index: int,
) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    shared.state.bind(index)
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(serve(settings, sock, say, shared))
    except BaseException:
        log.exception("worker failed")
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)
