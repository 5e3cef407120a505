"""The admin API and console in the FTP server's own event loop (uvicorn on a given socket)."""

from __future__ import annotations

import importlib
import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from pasv.accounts.sqlbase import AccountDatabase
from pasv.admin.actions import Manager
from pasv.admin.api import router
from pasv.admin.audit import AuditLog
from pasv.admin.console import console_router
from pasv.admin.console_edit import edit_router
from pasv.admin.context import AdminContext, Throughput
from pasv.admin.errors import register_errors
from pasv.admin.gate import Doorway, Gate
from pasv.admin.headers import SafeHeaders
from pasv.admin.limits import BodyLimit, deadline_protocol
from pasv.admin.peers import UnmappedClient, proxy_hosts
from pasv.admin.security import ADDRESS_FAILURES, ConsoleSessions, LoginThrottle
from pasv.admin.tokens import TokenStore
from pasv.server.app import FtpServer
from pasv.server.cluster_registry import ClusterRegistry
from pasv.server.composition import node_name
from pasv.server.registry import BanBook, LocalRegistry, SessionRegistry

# What uvicorn and Starlette import when the API starts and at its first request: a worker
# starts the API after it switched to the serving user, who may not reach these files (a
# virtualenv under a mode-0700 /root), so the supervisor imports them before it forks.
for _name in (
    "uvicorn.lifespan.off",
    "anyio._backends._asyncio",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
):
    importlib.import_module(_name)

log = logging.getLogger("pasv.admin")
OPENAPI_PATH = "/api/openapi.json"


def build_app(ctx: AdminContext) -> FastAPI:
    app = FastAPI(
        title="pasv admin API",
        version="1",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
        description="Manage the pasv FTP server: send `Authorization: Bearer <token>` "
        "(create one with `pasv admin token create NAME --scopes read,write`).",
    )
    app.state.ctx = ctx
    app.state.console = ConsoleSessions()
    # console passwords per address and name (a success clears only its name's failures)
    app.state.logins = LoginThrottle(address_limit=ADDRESS_FAILURES)
    app.state.tokens = LoginThrottle()  # failed tokens (API and console) per address
    register_errors(app)
    app.include_router(router)
    app.include_router(console_router)
    app.include_router(edit_router)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    return app


def default_registry(server: FtpServer) -> SessionRegistry:
    """This machine's sessions; in cluster mode (PostgreSQL) every node's."""
    local = LocalRegistry(server, server.board, server.node)
    if server.cluster is None:
        return local
    workers = server.settings.server.worker_count
    mine = {server.cluster.node}
    if workers > 1:  # each worker is a node of its own; the board shows them all live
        mine |= {node_name(server.settings, index) for index in range(workers)}
    return ClusterRegistry(local, server.cluster.store, mine)


async def start_admin(
    server: FtpServer,
    sock: socket.socket,
    accounts: AccountDatabase,
    say: Callable[[str], None],
    registry: SessionRegistry | None = None,
    bans: BanBook | None = None,
) -> Callable[[], Awaitable[None]]:
    """Serve the admin API on ``sock`` with ``accounts``, its own connection to the account
    store (as the CLI's), which its stop closes; returns the function that stops it.
    ``registry`` and ``bans`` may be given; by default this machine's sessions (every worker's,
    and every node's in cluster mode) and the bans in its account database."""
    settings = server.settings
    registry = registry if registry is not None else default_registry(server)
    throughput = Throughput(registry)
    ctx = AdminContext(
        settings=settings,
        manager=Manager(accounts, settings, bans),
        tokens=TokenStore(accounts),
        audit=AuditLog(settings.audit_log_path, server.take_audit_fd()),
        registry=registry,
        throughput=throughput,
        workers=settings.server.worker_count,
        cluster=server.cluster is not None,
        ftp_addresses=server.addresses,
        xferlog=server.xferlog.file,
    )
    server.auditlog = ctx.audit  # SIGHUP opens it again (after a rotation), as the other logs
    tls = settings.admin.tls and server.tls is not None
    gate = Gate(
        total=settings.admin.max_connections,
        share=settings.admin.address_share,
        unshared=settings.admin.trusted_proxies,
    )
    protocol = deadline_protocol()
    config = uvicorn.Config(
        SafeHeaders(BodyLimit(UnmappedClient(build_app(ctx)))),
        lifespan="off",
        log_config=None,
        access_log=False,
        http=protocol,
        ws="none",
        # uvicorn trusts X-Forwarded-For/-Proto from 127.0.0.1 by default: on a loopback
        # listener every client could then name its own address (to the login throttle, the
        # audit log). Only admin.trusted_proxies are believed: the client is the right-most
        # X-Forwarded-For address that is not one of them; else the peer is the client (an
        # IPv4 one of a dual-stack listener as IPv4: UnmappedClient)
        proxy_headers=bool(settings.admin.trusted_proxies),
        forwarded_allow_ips=proxy_hosts(settings.admin.trusted_proxies),
        timeout_graceful_shutdown=2,
    )
    config.load()
    web = uvicorn.Server(config)
    # Server.serve() would install its own signal handlers; the FTP server owns those, so the
    # steps of serve() that matter run here: the lifespan object, then startup and shutdown.
    web.lifespan = config.lifespan_class(config)
    await web.startup(sockets=[])  # no server of uvicorn's: the doorway accepts (gate.py)
    door = Doorway(
        sock,
        lambda: protocol(
            config=config, server_state=web.server_state, app_state=web.lifespan.state
        ),
        gate,
        # the FTP server's certificate, reloaded with it
        tls=server.tls.context if tls and server.tls is not None else None,
    )
    door.start()
    throughput.start()
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    say(f"pasv admin console on {'https' if tls else 'http'}://{shown}:{port}/console/")

    async def stop() -> None:
        await throughput.stop()
        web.should_exit = True
        await door.stop()
        await web.shutdown()
        server.auditlog = None
        ctx.audit.close()
        await accounts.close()

    return stop
