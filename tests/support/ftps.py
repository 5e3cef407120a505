"""FTPS test helpers: a test CA (trustme), a session-reusing ftplib client, certificate checks."""

from __future__ import annotations

import ftplib
import hashlib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from tests.support.live import PASSWORD, USER, LiveServer


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, except that data connections resume the control connection's TLS
    session, as curl, lftp and FileZilla do (plain FTP_TLS starts a new session each time)."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        return self.protect(conn), size

    def protect(self, conn: socket.socket) -> socket.socket:
        """After PROT P, TLS on the data connection ``conn``, resuming the control's session."""
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(
                conn,
                server_hostname=self.host,
                session=self.sock.session,  # type: ignore[attr-defined]
            )
        return conn


@dataclass
class Pki:
    """A CA and a server certificate for 127.0.0.1/localhost, written as PEM files."""

    ca: trustme.CA
    ca_file: Path
    chain_file: Path  # key + certificate chain in one file (tls.certificate, no tls.key)

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def issue(self, path: Path) -> str:
        """A fresh server certificate from the same CA into ``path``; its SHA-256 fingerprint."""
        cert = self.ca.issue_cert("127.0.0.1", "localhost", "::1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(path))
        return fingerprint(cert.cert_chain_pems[0].bytes())


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    pki = Pki(ca, directory / "ca.pem", directory / "server.pem")
    ca.cert_pem.write_to_path(str(pki.ca_file))
    pki.issue(pki.chain_file)
    return pki


def fingerprint(pem: bytes) -> str:
    der = ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))
    return hashlib.sha256(der).hexdigest()


def served_fingerprint(sock: ssl.SSLSocket) -> str:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def insecure_context(**versions: Any) -> ssl.SSLContext:
    """A client context that accepts any certificate (for the self-signed default)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for name, value in versions.items():
        setattr(ctx, name, value)
    return ctx


def ftps_login(
    live: LiveServer,
    context: ssl.SSLContext | None = None,
    *,
    reuse: bool = True,
    prot_p: bool = True,
    user: str = USER,
    password: str = PASSWORD,
) -> ftplib.FTP_TLS:
    """AUTH TLS, login (as alice unless told), PBSZ 0 + PROT P."""
    cls = ReusingFTP_TLS if reuse else ftplib.FTP_TLS
    ftp = cls(context=context or insecure_context(), timeout=10, encoding="utf-8")
    live.clients.append(ftp)
    ftp.connect(live.host, live.port)
    ftp.auth()
    ftp.login(user, password)
    if prot_p:
        ftp.prot_p()
    return ftp


def implicit_login(live: LiveServer, context: ssl.SSLContext | None = None) -> ftplib.FTP_TLS:
    """Implicit FTPS: TLS from the first byte on the implicit port, then login and PROT P."""
    ctx = context or insecure_context()
    ftp = ReusingFTP_TLS(context=ctx, timeout=10, encoding="utf-8")
    live.clients.append(ftp)
    host, port = live.server.implicit_addresses[0]
    raw = socket.create_connection((host, port), timeout=10)
    ftp.sock = ctx.wrap_socket(raw, server_hostname=host)
    ftp.af = ftp.sock.family
    ftp.host = host
    ftp.file = ftp.sock.makefile("r", encoding=ftp.encoding)
    ftp.welcome = ftp.getresp()
    ftp.login(USER, PASSWORD)
    ftp.prot_p()
    return ftp
