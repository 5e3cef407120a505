"""The FTP server: listeners, the live session registry, timeouts, and what sessions share."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlbase import AccountDatabase
from pasv.config import Settings
from pasv.policy.models import Perm, User
from pasv.policy.options import PolicySettings
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import FtpError
from pasv.protocol.replies import Reply, make_reply
from pasv.server.board import SessionBoard
from pasv.server.cluster import Cluster
from pasv.server.control import ControlProtocol
from pasv.server.controlsocket import ControlListener, listening_socket
from pasv.server.datachannel import PassivePortPool
from pasv.server.drain import drain_sessions
from pasv.server.events import Events
from pasv.server.gate import Gate
from pasv.server.hooks import Hooks
from pasv.server.inuse import FilesInUse
from pasv.server.listcache import ChangeCounter, ListingCache
from pasv.server.metrics import Metrics
from pasv.server.proxied import Balancers
from pasv.server.registry import describe, kick_local
from pasv.server.sessionlog import Reopening, SessionLog
from pasv.server.shared import SharedState
from pasv.server.standing import review
from pasv.server.storages import storage_factory
from pasv.server.telemetry import Telemetry
from pasv.server.tls import Certificate, CertificateError, TlsContexts
from pasv.server.transfers import FairShare
from pasv.server.usage import UsageBook
from pasv.server.vhosts import HostTable, VirtualHost
from pasv.server.xferlog import XferLog
from pasv.storage.base import Storage, WriteMode
from pasv.storage.local import real_root

log = logging.getLogger("pasv.server")


class FtpServer:
    """Everything the sessions of one process share."""

    def __init__(
        self,
        settings: Settings,
        accounts: AccountDatabase,
        changes: ChangeCounter | None = None,
        shared: SharedState | None = None,
        policy_changes: ChangeCounter | None = None,
        board: SessionBoard | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        """``accounts`` and ``cluster`` come from ``server.composition`` (SQLite alone, or
        PostgreSQL with this node's part in the cluster)."""
        self.settings = settings
        self.board = board  # with workers and the admin API: sessions published for worker 0
        self.accounts = accounts
        self.changes = changes if changes is not None else ChangeCounter()
        self.shared = shared if shared is not None else SharedState()
        self.metrics = metrics = Metrics()
        hooks = Hooks(settings.hooks, metrics.hook_result, metrics.hook_attempt_failed)
        self.events = Events(metrics, hooks)
        self.telemetry: Telemetry | None = None
        self.gate = Gate(
            PolicyStore(accounts),
            base_policy(settings),
            self.shared,
            policy_changes if policy_changes is not None else ChangeCounter(),
            cluster,
            self.events,
        )
        self.cluster = cluster
        self.usage = UsageBook(self.gate.store)
        self.listings = ListingCache(self.changes, settings.server.listing_cache_ttl)
        self.in_use = FilesInUse(self.shared)
        self.write_mode = write_mode(settings)
        self.uploads = 0  # uploads running in this process: listings are not cached meanwhile
        self.downloads = FairShare()  # sendfile downloads running here share each loop turn
        low, high = settings.passive.ports
        self.passive_pool = PassivePortPool(low, high)
        self.passive_overrides = tuple((o.network, o.address) for o in settings.passive.overrides)
        self.sessions: set[ControlProtocol] = set()
        # [proxy]: the trusted balancers, and their connections whose PROXY header is awaited
        self.balancers = Balancers(settings.proxy) if settings.proxy.enabled else None
        self.awaiting_header: set[ControlProtocol] = set()
        self.refusing_over_tls = 0  # implicit FTPS: refused connections handshaking for their 421
        self.draining: Reply | None = None  # SIGTERM: the 421 every new connection gets
        self.drained = asyncio.Event()  # set once draining and no session is left
        self._board_empty = False  # the board shows nothing of this worker: no need to say again
        self.xferlog = XferLog(settings.xferlog_path)
        self.sessionlog = SessionLog(settings.session_log_path if settings.admin.enabled else None)
        self.auditlog: Reopening | None = None  # the admin API's, where it serves (worker 0)
        self.audit_fd: int | None = None  # its file, opened before the switch (serve())
        self.tls = TlsContexts(settings) if settings.tls.enabled else None
        self.loop: asyncio.AbstractEventLoop  # set by start
        self._listeners: list[ControlListener] = []
        self._implicit: list[asyncio.Server] = []
        self._reaper: asyncio.Task[None] | None = None
        self.hosts = HostTable(settings)
        self.language = settings.server.language
        self.max_line = settings.server.max_line_length  # of a command line
        # what a session that has not chosen reads its lines in, its own (replies') first
        self.charsets = settings.server.charsets
        self.storages = storage_factory(settings)
        self._storages: dict[tuple[str, str], Storage] = {}  # (host, home) -> its storage
        self.local_addresses: dict[tuple[str, int], tuple[str, int]] = {}  # see Session.local
        self._anonymous: dict[str, User] = {}  # host name ("" for none) -> the anonymous user
        banner = settings.server.banners.get(self.language, settings.server.banner)
        self._homes: dict[tuple[str, str], Path] = {}  # (host, home) -> host path
        self.greeting = make_reply(ReplyCode.SERVICE_READY, banner)

    # --- lifecycle ------------------------------------------------------------------------
    async def start(
        self,
        sockets: list[socket.socket] | None = None,
        implicit_sockets: list[socket.socket] | None = None,
        metrics_socket: socket.socket | None = None,
    ) -> list[tuple[str, int]]:
        """Listen (on the given sockets, or as configured) and return the bound addresses."""
        # the serving loop, for what would ask for it per connection or transfer (on Python
        # 3.11, asyncio.get_running_loop costs a getpid() system call each time)
        self.loop = asyncio.get_running_loop()
        # one epoll set for the control connections and the passive listeners
        watch = self.passive_pool.watcher(self.loop)
        for sock in sockets or [listening_socket(self.settings)]:
            self._listeners.append(ControlListener(watch, sock, lambda: ControlProtocol(self)))
        if self.tls is not None and self.settings.tls.implicit:
            await self._listen_implicit(implicit_sockets)
        for sock in self._listening_sockets():  # accepted control connections inherit it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE, 1)
        if self.settings.anonymous.enabled:
            self.settings.anonymous_root.mkdir(parents=True, exist_ok=True)
            for vhost in self.hosts.hosts:
                if vhost.admits_anonymous():
                    vhost.anonymous_root.mkdir(parents=True, exist_ok=True)
        self._reaper = asyncio.ensure_future(self._reap())
        self.events.hooks.start()
        if self.settings.metrics.enabled:
            await self._listen_metrics(metrics_socket)
        bound = self.addresses
        for host, port in bound:
            log.info("listening on %s port %d", host, port)
        for host, port in self.implicit_addresses:
            log.info("listening for implicit FTPS on %s port %d", host, port)
        return bound

    async def _listen_implicit(self, sockets: list[socket.socket] | None) -> None:
        """Implicit FTPS: the handshake comes first, then the greeting (over TLS); the connection
        is admitted (bans, IP rules, connection limits) as it is accepted, before the handshake
        (``ControlProtocol.connection_made``)."""
        assert self.tls is not None
        loop = asyncio.get_running_loop()
        cfg = self.settings.server

        def factory() -> ControlProtocol:
            return ControlProtocol(self, implicit=True)

        if sockets:
            for sock in sockets:
                self._implicit.append(
                    await loop.create_server(
                        factory,
                        sock=sock,
                        backlog=cfg.backlog,
                    )
                )
            return
        self._implicit.append(
            await loop.create_server(
                factory,
                host=cfg.host,
                port=self.settings.tls.implicit_port,
                backlog=cfg.backlog,
            )
        )

    async def _listen_metrics(self, sock: socket.socket | None) -> None:
        """The telemetry listener; a port that cannot be bound is logged, FTP goes on."""
        telemetry = Telemetry(lambda accept: self.metrics.exposition(self, accept))
        host, port = self.settings.metrics.address
        try:
            await telemetry.start(host, port, sock)
        except OSError as exc:
            log.error(
                "cannot serve metrics on %s: %s; FTP is served without them",
                self.settings.metrics.listen,
                exc.strerror or exc,
            )
            return
        self.telemetry = telemetry
        if sock is None and telemetry.address is not None:
            log.info("metrics on http://%s/metrics", _http_host(*telemetry.address))

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where /metrics is served, or None."""
        return self.telemetry.address if self.telemetry is not None else None

    def _listening_sockets(self) -> list[socket.socket]:
        return [s for listener in self._listeners for s in listener.sockets] + [
            s for server in self._implicit for s in server.sockets
        ]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return _bound(self._listeners)

    @property
    def implicit_addresses(self) -> list[tuple[str, int]]:
        """Where implicit FTPS (ftps://) is served."""
        return _bound(self._implicit)

    def reload_tls(self) -> Certificate | None:
        """SIGHUP: new sessions get the certificate and key now on disk; open ones keep theirs."""
        if self.tls is None:
            return None
        try:
            return self.tls.reload()
        except CertificateError:
            return None  # logged; the current certificate stays in service

    def take_audit_fd(self) -> int | None:
        """The audit log's descriptor for the admin API, which closes it from then on."""
        fd, self.audit_fd = self.audit_fd, None
        return fd

    def reload(self) -> None:
        """SIGHUP: the certificate and key now on disk, and the logs opened again."""
        self.reload_tls()
        self.xferlog.reopen()
        self.sessionlog.reopen()
        if self.auditlog is not None:
            self.auditlog.reopen()

    async def drain(self, now: asyncio.Event | None = None) -> int:
        """Refuse new sessions, let running transfers finish for ``[drain] timeout`` seconds
        (or until ``now`` is set), then cut the rest; how many were cut. ``close`` follows."""
        return await drain_sessions(self, self.settings.drain, now)

    async def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        for implicit in self._implicit:
            implicit.close()
        for control in list(self.awaiting_header):
            control.close()
        for control in list(self.sessions):
            control.send(make_reply(ReplyCode.SERVICE_UNAVAILABLE, "Server shutting down."))
            control.close()
        for implicit in self._implicit:
            await implicit.wait_closed()
        self.metrics.flush()  # a worker's counters outlive it: none may be left unwritten
        if self._reaper is not None:
            self._reaper.cancel()
        if self.telemetry is not None:
            await self.telemetry.close()
        await self.events.hooks.close()
        self.passive_pool.close()
        self.xferlog.close()
        if self.audit_fd is not None:  # the admin API never started
            os.close(self.audit_fd)
        await self.storages.aclose()
        self.sessionlog.close()

    async def _reap(self) -> None:
        timeouts = self.settings.timeouts
        header = self.settings.proxy.header_timeout
        interval = max(0.05, min(1.0, timeouts.login / 4, timeouts.idle / 4, header / 4))
        sweep_at = 0.0
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            # a change made by another worker or program reaches this worker's sessions too,
            # idle or not: the policy is reloaded and the logged-in sessions checked again
            if self.gate.refresh(now):
                await review(self)
            for control in list(self.sessions):
                control.expire(now)
            if self.board is not None:
                self.publish(everything=self.board.watched(now))
            for control in list(self.awaiting_header):
                control.expire_header(now)
            if self.metrics.shared:  # the other workers' scrapes read what this one sampled
                self.metrics.sample(self)
            if now >= sweep_at:  # forget rate windows that ended and zero counts
                sweep_at = now + 30.0
                self.shared.sweep(now)

    def publish(self, everything: bool = True) -> None:
        """End the sessions the admin API asked to end, then show this worker's sessions on
        the board: all of them while the API is watching, else only those transferring (the
        throughput chart's samples), and nothing again while there are none."""
        board = self.board
        assert board is not None
        index = self.shared.index
        if everything:
            for number in board.take_kicks(index):
                kick_local(self, number)
            shown = list(self.sessions)
        else:
            shown = [c for c in self.sessions if c.session.transfer is not None]
            if not shown and self._board_empty:
                return
        wall = time.time()
        board.publish(
            index, [describe(c, self.node, index, wall).to_dict() for c in shown], everything
        )
        self._board_empty = not shown

    @property
    def node(self) -> str:
        """This process's name in the session ids: its cluster node name, else ``local``."""
        return self.cluster.node if self.cluster is not None else "local"

    # --- sessions -------------------------------------------------------------------------
    def session_opened(self, control: ControlProtocol) -> Reply | None:
        """Register a new connection; a refusal (421) for it, or None to greet it."""
        if self.draining is not None:
            return self.draining
        self.sessions.add(control)
        try:
            self.gate.connect(control.session.peer_ip)
        except FtpError as exc:
            log.info("%s refused at connect: %s", control.session.peer_ip, exc.text)
            self.events.refused(None, exc)
            ip = control.session.peer_ip
            self.sessionlog.record("connect_refused", ip, "", exc.code, exc.text)
            return make_reply(exc.code, exc.text)
        return None

    def session_closed(self, control: ControlProtocol) -> None:
        if control in self.sessions:
            self.sessions.discard(control)
            self.gate.disconnect(control.session)
            if self.draining is not None and not self.sessions:
                self.drained.set()
        else:
            self.awaiting_header.discard(control)

    def changed(self) -> None:
        """Something was written through this server: cached listings are stale (every worker)."""
        self.changes.bump()

    # --- users and their storage ----------------------------------------------------------
    def anonymous_user(self, host: VirtualHost | None = None) -> User:
        key = host.name if host is not None else ""
        found = self._anonymous.get(key)
        if found is None:
            where = host.anonymous_root if host is not None else self.settings.anonymous_root
            found = User("anonymous", real_root(where.absolute()), Perm.READ, anonymous=True)
            self._anonymous[key] = found
        return found

    def home_of(self, user: User, host: VirtualHost | None = None) -> Path:
        """A user's folder on disk: an absolute home as it is, a relative one under the files
        root of the session's virtual host (or the server's). Cached: pathlib is slow per RETR."""
        key = (host.name if host is not None else "", user.home)
        found = self._homes.get(key)
        if found is None:
            home = Path(user.home) if user.home else Path()
            root = host.root if host is not None else self.settings.files_root
            found = home if home.is_absolute() else root / home
            if len(self._homes) < 100_000:  # bounded: one entry per distinct home
                self._homes[key] = found
        return found

    def _storage_key(self, user: User, host: VirtualHost | None) -> tuple[str, str]:
        home = f"{user.name}\0{user.home}" if self.storages.spec.per_user else user.home
        return (host.name if host is not None else "", home)

    def cached_storage(self, user: User, host: VirtualHost | None = None) -> Storage | None:
        """The storage of a home seen before (the common case of a repeat login), else None."""
        return self._storages.get(self._storage_key(user, host))

    async def storage_for(self, user: User, host: VirtualHost | None = None) -> Storage:
        key = self._storage_key(user, host)
        storage = self._storages.get(key)
        if storage is None:
            storage = await self.storages.for_user(
                user.name, self.home_of(user, host), anonymous=user.anonymous
            )
            self._storages[key] = storage
        return storage


def write_mode(settings: Settings) -> WriteMode:
    """How uploads reach their names, from the [uploads] section."""
    mode = settings.uploads.mode
    return WriteMode(
        atomic=mode != "standard",
        keep_partial=mode == "atomic-resume",
        fsync=settings.uploads.fsync,
    )


def base_policy(settings: Settings) -> PolicySettings:
    """The policy defaults the configuration file sets; stored policy overrides them."""
    return PolicySettings(
        max_clients=settings.server.max_sessions,
        login_timeout=settings.timeouts.login,
        idle_timeout=settings.timeouts.idle,
        data_timeout=settings.timeouts.data_connect,
        require_tls_login=settings.tls.require_login_tls,
        require_tls_data=settings.tls.require_data_tls,
    )


def _bound(listeners: Sequence[ControlListener | asyncio.Server]) -> list[tuple[str, int]]:
    result = []
    for listener in listeners:
        for sock in listener.sockets:
            name = sock.getsockname()
            result.append((name[0], name[1]))
    return result


def _http_host(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
