"""How a client connects: TLS, data-connection mode, encoding, timeouts, tracing."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from pasv.client.trace import Tracer

__all__ = ["ClientOptions", "tls_context"]


@dataclass(frozen=True)
class ClientOptions:
    """``tls`` is explicit FTPS (AUTH TLS); ``implicit_tls`` is ftps:// (TLS from the start)."""

    tls: bool = False
    implicit_tls: bool = False
    ssl_context: ssl.SSLContext | None = None
    passive: bool = True
    epsv: bool = True
    fallback: bool = True
    encoding: str = "utf-8"
    timeout: float = 30.0
    trace: Tracer | None = None
    send_host: bool = True  # RFC 7151 HOST when the URL names a host and FEAT lists HOST
    compress: bool = False  # MODE Z when the server's FEAT lists it
    block: bool = False  # MODE B (restart markers) when the server accepts it
    marker_every: int = 1024 * 1024  # MODE B uploads: a restart marker after this many bytes
    max_listing: int = 256 * 1024 * 1024  # a longer listing (a hostile server's) is an error
    trust_pasv_address: bool = False  # connect where a 227 points even if not the server itself

    @property
    def any_tls(self) -> bool:
        return self.tls or self.implicit_tls


def tls_context(ca: Path | None = None, insecure: bool = False) -> ssl.SSLContext:
    """A client context: system CAs (or ``ca``), hostname checked, unless ``insecure``."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
