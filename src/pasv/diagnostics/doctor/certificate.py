"""What a server's TLS certificate says: subject, issuer, names, and how long it stays valid."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["CertificateFacts", "read_certificate"]


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_after: datetime.datetime
    self_signed: bool

    def days_left(self, now: datetime.datetime) -> int:
        return (self.not_after - now).days


def _common_name(name: x509.Name) -> str:
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def read_certificate(der: bytes) -> CertificateFacts:
    """The facts of a DER certificate (as ``SSLObject.getpeercert(binary_form=True)`` gives)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(
            [*san.get_values_for_type(x509.DNSName)]
            + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        )
    except x509.ExtensionNotFound:
        names = ()
    return CertificateFacts(
        subject=_common_name(cert.subject),
        issuer=_common_name(cert.issuer),
        names=names,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.subject == cert.issuer,
    )
