"""TLS contexts: certificate loading, a self-signed certificate at first start, SIGHUP reload."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import logging
import os
import socket
import ssl
import weakref
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pasv.config import HostSection, Settings
from pasv.server.tlssession import set_lifetime

log = logging.getLogger("pasv.tls")

# TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are all modern already).
CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
SELF_SIGNED_DAYS = 3650


class CertificateError(Exception):
    """The certificate or key cannot be used; the text says which file and why."""


@dataclass(frozen=True, slots=True)
class Certificate:
    """Where the certificate and key are, and what clients will see."""

    certificate: Path
    key: Path
    fingerprint: str  # SHA-256 of the leaf certificate, AA:BB:... as browsers and clients show it
    self_signed: bool
    created: bool = False


def fingerprint_of(pem: bytes) -> str:
    """SHA-256 fingerprint of the first certificate in a PEM file (a key may come before it)."""
    leaf = x509.load_pem_x509_certificates(pem)[0]
    digest = leaf.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def self_signed(directory: Path, address: str | None = None) -> tuple[Path, Path, bool]:
    """The self-signed certificate in ``directory``, created on first use.

    It names the host name, localhost, the loopback addresses and ``address`` (the configured
    listening address), so a client given the file as its CA can verify the usual names.
    """
    cert_path, key_path = directory / "self-signed.pem", directory / "self-signed.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, False
    directory.mkdir(parents=True, exist_ok=True)
    if directory.is_symlink():  # written as root in a directory the serving user may own
        raise CertificateError(f"{directory}: is a symbolic link; not writing a key there")
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname() or "localhost"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(host), x509.DNSName("localhost")]
    for ip in {"127.0.0.1", "::1", address or "127.0.0.1"}:
        with contextlib.suppress(ValueError):
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    for path, data, mode in (
        (key_path, key_pem, 0o600),
        (cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644),
    ):
        with os.fdopen(os.open(path, flags, mode), "wb") as out:
            out.write(data)
    return cert_path, key_path, True


def locate(settings: Settings) -> Certificate:
    """The configured certificate, or the self-signed one in the data directory (made if needed)."""
    cfg = settings.tls
    if cfg.certificate is not None:
        cert_path, key_path, created = cfg.certificate, cfg.key or cfg.certificate, False
    else:
        cert_path, key_path, created = self_signed(settings.tls_dir, settings.server.host)
    try:
        pem = cert_path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{cert_path}: cannot read: {exc.strerror}") from None
    try:
        fingerprint = fingerprint_of(pem)
    except ValueError:
        raise CertificateError(f"{cert_path}: not a PEM certificate") from None
    return Certificate(cert_path, key_path, fingerprint, cfg.certificate is None, created)


def locate_host(host: HostSection) -> Certificate:
    """A virtual host's own certificate (``certificate`` is set)."""
    assert host.certificate is not None
    cert_path, key_path = host.certificate, host.key or host.certificate
    try:
        fingerprint = fingerprint_of(cert_path.read_bytes())
    except OSError as exc:
        raise CertificateError(f"{cert_path}: cannot read: {exc.strerror}") from None
    except ValueError:
        raise CertificateError(f"{cert_path}: not a PEM certificate") from None
    return Certificate(cert_path, key_path, fingerprint, False)


def protocol_context() -> ssl.SSLContext:
    """A server context without a certificate: TLS 1.2 and 1.3 only, modern ciphers, session
    resumption on."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.set_ciphers(CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # Data connections resume the control connection's session: TLS 1.2 by session id (the
    # server cache is on by default) or ticket, TLS 1.3 by ticket. Never turn tickets off.
    ctx.options &= ~ssl.OP_NO_TICKET
    ctx.num_tickets = 4
    return ctx


def server_context(cert: Certificate) -> ssl.SSLContext:
    """A server context presenting ``cert`` (see ``protocol_context``)."""
    ctx = protocol_context()
    try:
        ctx.load_cert_chain(cert.certificate, cert.key)
    except OSError as exc:
        raise CertificateError(
            f"{exc.filename or cert.certificate}: cannot read: {exc.strerror}"
        ) from None
    except ssl.SSLError as exc:
        raise CertificateError(
            f"{cert.certificate} / {cert.key}: certificate and key do not load: {exc.reason}"
        ) from None
    return ctx


class TlsContexts:
    """The server's TLS contexts, and the certificate they present.

    Each control connection (AUTH TLS or implicit) starts on a context of its own
    (``session_context``), and its data connections on the same one: its session cache and
    ticket keys are that connection's alone, so a data connection can resume its control
    connection's session, even across a reload, and no other connection's. With one shared
    context, a client that made a TLS session of its own (AUTH TLS, no login needed) resumed it
    on another session's data connection and passed require_session_reuse. The certificate is
    chosen during each handshake (the SNI callback runs for every ClientHello, with or without a
    server name): ``reload`` swaps the certificate context, so new handshakes get the new
    certificate while established connections carry on untouched. ``context`` is the template
    (its TLS versions are copied).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.certificate = locate(settings)
        self._serving = server_context(self.certificate)
        self.context = server_context(self.certificate)
        self.context.sni_callback = self._present
        self._names = {name for host in settings.hosts for name in host.names}
        self._hosts: dict[str, ssl.SSLContext] = {}  # host name -> its own certificate's context
        self.host_certificates: dict[str, Certificate] = {}
        self._load_hosts()
        # the virtual host name each TLS connection asked for (SNI), when it named one
        self._asked: weakref.WeakKeyDictionary[ssl.SSLSocket | ssl.SSLObject, str] = (
            weakref.WeakKeyDictionary()
        )

    def session_context(self) -> ssl.SSLContext:
        """A new context for one control connection and its data connections (no certificate
        of its own: ``_present`` picks it)."""
        ctx = protocol_context()
        ctx.minimum_version = self.context.minimum_version
        ctx.maximum_version = self.context.maximum_version
        ctx.sni_callback = self._present
        # its sessions outlive OpenSSL's 2 hours: data connections resume them (tlssession.py)
        set_lifetime(ctx, self.settings.tls.session_lifetime)
        return ctx

    def _load_hosts(self) -> None:
        contexts, certificates = {}, {}
        for host in self.settings.hosts:
            if host.certificate is None:
                continue
            cert = certificates[host.name] = locate_host(host)
            serving = server_context(cert)
            for name in host.names:
                contexts[name] = serving
        self._hosts, self.host_certificates = contexts, certificates

    def _present(
        self, conn: ssl.SSLSocket | ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext
    ) -> None:
        """Per ClientHello: the certificate of the host the client named (SNI); without a name
        the one chosen before the handshake (the host HOST named), else the server's."""
        if server_name is not None:
            name = server_name.rstrip(".").lower()
            if name in self._names:
                self._asked[conn] = name
                serving = self._hosts.get(name)
                if serving is not None:
                    conn.context = serving
                    return
        if conn.context.sni_callback is not None:  # a session context (holds no certificate)
            conn.context = self._serving

    def asked_for(self, conn: ssl.SSLSocket | ssl.SSLObject | None) -> str | None:
        """The virtual host name the client sent as SNI on ``conn``, when it named one."""
        return None if conn is None else self._asked.get(conn)

    def serving_for(self, host: str | None) -> ssl.SSLContext | None:
        """The context presenting ``host``'s own certificate (None: the server's)."""
        return None if host is None else self._hosts.get(host)

    def reload(self) -> Certificate:
        """Read the certificate and key again; on any problem keep serving the current ones."""
        try:
            cert = locate(self.settings)
            serving = server_context(cert)
            self._load_hosts()
        except CertificateError as exc:
            log.error("TLS reload failed, still serving %s: %s", self.certificate.fingerprint, exc)
            raise
        self.install(cert, serving)
        return cert

    def install(self, cert: Certificate, serving: ssl.SSLContext) -> None:
        """Present ``serving`` (loaded by the caller: a privileged parent's copy) from now on."""
        self.certificate, self._serving = cert, serving
        log.info("TLS certificate reloaded: SHA-256 %s", cert.fingerprint)
