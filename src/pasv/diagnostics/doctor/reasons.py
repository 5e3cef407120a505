"""Why a connection failed, in the reader's language: the common OS, name-lookup and TLS errors
as phrases of data/reasons.toml, each with its raw name in brackets (ECONNREFUSED, EAI_NONAME,
CERTIFICATE_VERIFY_FAILED …) so that the text can still be searched for."""

from __future__ import annotations

import errno
import re
import socket
import ssl
import tomllib
from functools import cache
from importlib import resources

from pasv.client.errors import ConnectionFailed, ReplyTimeout
from pasv.diagnostics.doctor.texts import say
from pasv.diagnostics.knowledge import Lang

__all__ = ["control_lost", "reason", "root_cause"]

_ERRNO = {
    errno.ECONNREFUSED: "refused",
    errno.ETIMEDOUT: "timeout",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.ENETUNREACH: "net_unreachable",
    errno.ECONNRESET: "reset",
    errno.ECONNABORTED: "aborted",
    errno.EPIPE: "broken_pipe",
}
_GAI_NAMES = {value: name for name, value in vars(socket).items() if name.startswith("EAI_")}
_GAI = {"EAI_NONAME": "name_unknown", "EAI_AGAIN": "name_again", "EAI_NODATA": "name_no_address",
        "EAI_ADDRFAMILY": "name_no_address", "EAI_FAIL": "name_failed"}  # fmt: skip
# OpenSSL's X509_V_ERR_* codes, as SSLCertVerificationError.verify_code gives them.
_VERIFY = {
    9: "cert_not_yet_valid",
    10: "cert_expired",
    18: "cert_self_signed",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "cert_self_signed",  # SELF_SIGNED_CERT_IN_CHAIN
    2: "cert_unknown_issuer",
    20: "cert_unknown_issuer",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "cert_unknown_issuer",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    62: "cert_wrong_name",  # HOSTNAME_MISMATCH
    64: "cert_wrong_name",  # IP_ADDRESS_MISMATCH
}
# Words of an ssl.SSLError's reason (OpenSSL's name for it) and what they mean.
_TLS = (
    ("WRONG_VERSION_NUMBER", "tls_wrong_version"),
    ("HTTP_REQUEST", "tls_wrong_version"),
    ("PROTOCOL_VERSION", "tls_version"),
    ("UNSUPPORTED_PROTOCOL", "tls_version"),
    ("HANDSHAKE_FAILURE", "tls_handshake"),
    ("NO_SHARED_CIPHER", "tls_handshake"),
    ("NO_CIPHERS_AVAILABLE", "tls_handshake"),
    ("UNEXPECTED_EOF", "tls_eof"),
    ("EOF", "tls_eof"),
)
_SSL_NAME = re.compile(r"\[SSL: (\w+)\]")
_CLOSED = "the server closed the control connection"  # the client's words for a clean EOF


@cache
def _phrases() -> dict[str, dict[str, str]]:
    data = resources.files("pasv.diagnostics").joinpath("data", "reasons.toml").read_bytes()
    return tomllib.loads(data.decode("utf-8"))


def root_cause(exc: BaseException) -> BaseException:
    """The OS or TLS error under the client's own errors (``raise … from None`` keeps it as the
    context); ``exc`` itself when there is none."""
    seen: set[int] = set()
    found = exc
    while id(found) not in seen:
        seen.add(id(found))
        if isinstance(found, OSError):
            return found
        below = found.__cause__ or found.__context__
        if below is None:
            break
        found = below
    return exc


def _tls(exc: ssl.SSLError) -> tuple[str, str] | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        key = _VERIFY.get(exc.verify_code or 0, "cert_other")
        return key, f"CERTIFICATE_VERIFY_FAILED: {exc.verify_message or exc.reason}"
    named = _SSL_NAME.search(str(exc))
    name = getattr(exc, "reason", None) or (named.group(1) if named else type(exc).__name__)
    if isinstance(exc, ssl.SSLEOFError):
        return "tls_eof", name
    key = next((k for word, k in _TLS if word in name.upper()), "tls_other")
    return key, name


def _key(exc: BaseException) -> tuple[str, str] | None:
    """The phrase's key and the raw name to show with it; None when there is no phrase."""
    if isinstance(exc, ReplyTimeout):
        return "no_reply", "ETIMEDOUT"
    if isinstance(exc, ConnectionFailed) and str(exc) == _CLOSED:
        return "closed", "EOF"
    cause = root_cause(exc)
    if isinstance(cause, ssl.SSLError):
        return _tls(cause)
    if isinstance(cause, socket.gaierror):
        name = _GAI_NAMES.get(cause.errno, "EAI_?")
        return _GAI.get(name, "name_failed"), name
    if isinstance(cause, OSError) and cause.errno in _ERRNO:
        return _ERRNO[cause.errno], errno.errorcode[cause.errno]
    if isinstance(cause, TimeoutError):  # asyncio's timeouts carry no errno
        return "timeout", "ETIMEDOUT"
    return None


def reason(lang: Lang, exc: BaseException) -> str:
    """Why ``exc`` happened, in ``lang``: "连接被拒绝 (ECONNREFUSED)"; an error without a phrase
    is said as the system says it, with its errno name when it has one."""
    found = _key(exc)
    if found is not None:
        key, name = found
        return f"{_phrases()[lang][key]} ({name})"
    cause = root_cause(exc)
    if isinstance(cause, OSError) and cause.errno is not None and cause.errno in errno.errorcode:
        return f"{cause.strerror or cause} ({errno.errorcode[cause.errno]})"
    return str(exc) or type(exc).__name__


def control_lost(lang: Lang, exc: BaseException) -> str:
    """The control connection failed: closed or reset by the server, or silent (no reply in
    time, which is not the server closing it)."""
    if isinstance(exc, ReplyTimeout):
        return say(lang, "control_silent", reason=reason(lang, exc))
    return say(lang, "control_lost", reason=reason(lang, exc))
