"""The privileged parent's one job for its unprivileged workers: on SIGHUP, read the certificate
and key and reopen the transfer, session and audit logs, then hand them over as file
descriptors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from pathlib import Path

from pasv.config import Settings
from pasv.server import xferlog
from pasv.server.app import FtpServer
from pasv.server.privileges import Account
from pasv.server.tls import Certificate, CertificateError, locate, server_context

log = logging.getLogger("pasv.server")

_MAX_MESSAGE = 4096
_MAX_FDS = 4


def channel() -> tuple[socket.socket, socket.socket]:
    """(parent's end, worker's end): one message per reload, descriptors attached."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def _memory_file(data: bytes) -> int:
    fd = os.memfd_create("pasv-tls", os.MFD_CLOEXEC)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return fd


def _reopen(path: Path, mine: bool, account: Account, flags: int = xferlog.OPEN_FLAGS) -> int:
    """A log opened again as root; one in the data directory (``mine``) that root owns (made
    now, after a rotation) is given to the serving user, as at the start. One set elsewhere is
    never given away: the worker writes (and the admin API reads) it through this descriptor."""
    fd = os.open(path, flags, 0o640)
    if mine and os.fstat(fd).st_uid == 0:
        os.fchown(fd, account.uid, account.gid)
    return fd


def reload_message(settings: Settings, account: Account) -> tuple[bytes, list[int]]:
    """As root: the certificate chain and key in a memory file (only when they load), and the
    transfer, session and audit logs opened again. The key never touches the disk on the way."""
    header: dict[str, object] = {}
    fds: list[int] = []
    if settings.tls.enabled:
        try:
            cert = locate(settings)
            server_context(cert)  # refuse what would not load before any worker sees it
            pem = cert.certificate.read_bytes()
            if cert.key != cert.certificate:
                pem += b"\n" + cert.key.read_bytes()
        except (CertificateError, OSError) as exc:
            log.error("TLS reload failed; the workers keep their current certificate: %s", exc)
        else:
            fds.append(_memory_file(pem))
            header["tls"] = {
                "certificate": str(cert.certificate),
                "key": str(cert.key),
                "fingerprint": cert.fingerprint,
                "self_signed": cert.self_signed,
            }
    try:
        mine = settings.logging.xferlog is None
        fds.append(_reopen(settings.xferlog_path, mine, account, xferlog.READ_BACK_FLAGS))
        header["xferlog"] = True
    except OSError as exc:
        log.error("cannot reopen the transfer log %s: %s", settings.xferlog_path, exc)
    if settings.admin.enabled:
        try:
            fds.append(_reopen(settings.session_log_path, True, account))
            header["sessionlog"] = True
        except OSError as exc:
            log.error("cannot reopen the session log %s: %s", settings.session_log_path, exc)
        try:  # only worker 0 serves the API; the others close it
            mine = settings.admin.audit_log is None
            fds.append(_reopen(settings.audit_log_path, mine, account, xferlog.READ_BACK_FLAGS))
            header["auditlog"] = True
        except OSError as exc:
            log.error("cannot reopen the audit log %s: %s", settings.audit_log_path, exc)
    return json.dumps(header).encode(), fds


def send(sock: socket.socket, message: tuple[bytes, list[int]]) -> None:
    data, fds = message
    with contextlib.suppress(OSError):  # a worker that just died: its replacement reads files
        socket.send_fds(sock, [data], fds)


def receive(sock: socket.socket, server: FtpServer) -> bool:
    """Apply one message from the parent; False when the parent is gone."""
    data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, _MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return False
    header = json.loads(data)
    queue = list(fds)
    tls = header.get("tls")
    if tls is not None and queue:
        fd = queue.pop(0)
        try:
            _install(server, tls, f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    if header.get("xferlog") and queue:
        server.xferlog.reopen(queue.pop(0))
    if header.get("sessionlog") and queue:
        server.sessionlog.reopen(queue.pop(0))
    if header.get("auditlog") and queue and server.auditlog is not None:
        server.auditlog.reopen(queue.pop(0))
    for fd in queue:
        os.close(fd)
    return True


def _install(server: FtpServer, tls: dict[str, object], path: str) -> None:
    if server.tls is None:
        return
    loading = Certificate(Path(path), Path(path), str(tls["fingerprint"]), bool(tls["self_signed"]))
    try:
        serving = server_context(loading)
    except CertificateError as exc:
        current = server.tls.certificate.fingerprint
        log.error("TLS reload failed, still serving %s: %s", current, exc)
        return
    cert, key = Path(str(tls["certificate"])), Path(str(tls["key"]))
    shown = Certificate(cert, key, loading.fingerprint, loading.self_signed)
    server.tls.install(shown, serving)
