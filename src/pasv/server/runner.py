"""Running `pasv serve`: data directory, first account, admin socket, then one process or a
supervisor of workers (server/supervisor.py; each serves as server/serving.py says)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable

from pasv.accounts.policy_store import PolicyStore
from pasv.config import Settings
from pasv.policy.engine import Policy
from pasv.server.app import base_policy
from pasv.server.composition import open_accounts
from pasv.server.firstuser import create_first_user
from pasv.server.privileges import (
    hand_over,
    serving_account,
)
from pasv.server.serving import Addon, loop_factory, serve
from pasv.server.setup_warnings import setup_warnings
from pasv.server.supervisor import supervise
from pasv.server.tls import Certificate, locate

log = logging.getLogger("pasv.server")


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
    supervise(settings, say, account, extra)
