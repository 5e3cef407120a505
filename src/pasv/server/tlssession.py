"""How long a TLS session can be resumed: OpenSSL's SSL_CTX_set_timeout, which ``ssl`` lacks.

A session lives 7,200 seconds by default (OpenSSL's TLS default; Python's ``ssl`` can read a
session's ``timeout`` but set no context's). With ``tls.require_session_reuse`` a data
connection opened later than that after its control connection's handshake could not resume
the session and got 522, so pasv sets the lifetime of the sessions of its own contexts, as
vsftpd does for ``require_ssl_reuse``. The call goes through ctypes to the libssl that
CPython's ``_ssl`` module uses, on the ``SSL_CTX`` an ``SSLContext`` wraps (the first field
after the object header in every CPython since 2.7); where that cannot be done safely, nothing
is set and the default stays (docs/tls.md).
"""

from __future__ import annotations

import ctypes
import ssl
import sys
from collections.abc import Callable

OPENSSL_DEFAULT = 7200
_Setter = Callable[[ssl.SSLContext, int], None]


def _pointer(ctx: ssl.SSLContext) -> int | None:
    """The ``SSL_CTX *`` inside ``ctx`` (``PySSLContext.ctx``, right after the header)."""
    return ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value


def _bind() -> _Setter | None:
    """The setter, once it proved on a probe context that it reaches the right ``SSL_CTX``."""
    if sys.implementation.name != "cpython":
        return None
    try:
        lib = ctypes.CDLL(ssl._ssl.__file__)  # type: ignore[attr-defined]
        set_timeout, get_timeout = lib.SSL_CTX_set_timeout, lib.SSL_CTX_get_timeout
        get_options = lib.SSL_CTX_get_options
    except (OSError, AttributeError):  # a static build that exports no libssl symbol
        return None
    set_timeout.argtypes, set_timeout.restype = [ctypes.c_void_p, ctypes.c_long], ctypes.c_long
    get_timeout.argtypes, get_timeout.restype = [ctypes.c_void_p], ctypes.c_long
    get_options.argtypes, get_options.restype = [ctypes.c_void_p], ctypes.c_uint64
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    probe.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_TICKET  # a mark to find again
    pointer = _pointer(probe)
    if not pointer or get_options(pointer) != probe.options:
        return None
    if get_timeout(pointer) != OPENSSL_DEFAULT:
        return None

    def setter(ctx: ssl.SSLContext, seconds: int) -> None:
        set_timeout(_pointer(ctx), seconds)

    return setter


_SETTER = _bind()


def settable() -> bool:
    """Whether this Python lets pasv set the sessions' lifetime (else they keep 7,200 s)."""
    return _SETTER is not None


def set_lifetime(ctx: ssl.SSLContext, seconds: int) -> bool:
    """Sessions made on ``ctx`` from now on can be resumed for ``seconds``; False when this
    Python cannot set it (they keep 7,200)."""
    if _SETTER is None:
        return False
    _SETTER(ctx, seconds)
    return True
