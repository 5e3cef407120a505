"""What the doctor examines: the server, the account, and how far it may go (--write)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

from pasv.client.trace import Tracer

__all__ = ["DoctorTarget", "TlsMode", "TransferMode"]

TlsMode = Literal["none", "explicit", "implicit"]
TransferMode = Literal["passive", "active"]


@dataclass(frozen=True)
class DoctorTarget:
    """The server and account to examine; the password never appears in a repr or a report."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    path: str = "/"
    tls: TlsMode = "none"
    ssl_context: ssl.SSLContext | None = None
    verify: bool = True  # False with --insecure: the certificate is shown, not checked
    timeout: float = 10.0
    write: bool = False
    modes: tuple[TransferMode, ...] = ("passive", "active")  # the modes to test, in this order
    sample_bytes: int = 1 << 20
    display: str = ""
    trace: Tracer | None = None
