"""``ftp://`` and ``ftps://`` URLs, and where a password comes from (URL, ~/.netrc, caller)."""

from __future__ import annotations

import netrc
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["FtpUrl", "UrlError", "netrc_credentials", "parse_url"]

DEFAULT_PORTS = {"ftp": 21, "ftps": 990}
ANONYMOUS = "anonymous"
_PASSWORD = re.compile(r"^(\s*[^:/]*://[^/@:]*):[^/]*@")  # scheme://user:password@ (last @)


def _shown(text: str) -> str:
    """The URL as an error message may quote it: its password replaced by ****."""
    return repr(_PASSWORD.sub(r"\1:****@", text))


class UrlError(ValueError):
    """The text is not a usable ftp:// or ftps:// URL."""


@dataclass(frozen=True, slots=True)
class FtpUrl:
    """A parsed URL; ``implicit_tls`` for ftps:// (TLS from the first byte, port 990)."""

    host: str
    port: int
    path: str
    user: str | None = None
    password: str | None = None
    implicit_tls: bool = False

    @property
    def display(self) -> str:
        """The URL without its password, for messages and logs."""
        scheme = "ftps" if self.implicit_tls else "ftp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        who = f"{self.user}@" if self.user else ""
        return f"{scheme}://{who}{host}:{self.port}{self.path}"

    def with_path(self, path: str) -> FtpUrl:
        return replace(self, path=path)


def parse_url(text: str) -> FtpUrl:
    """Parse ``ftp://user[:pass]@host[:port]/path`` (user, password and path percent-decoded).

    FTP URLs have no query and no fragment: a ``?`` or ``#`` after the host is part of the path
    (``ftp://host/pub/report?.csv``, ``ftp://host/notes#1.txt``), as the file's name has it."""
    try:
        parts = urlsplit(text, allow_fragments=False)
    except ValueError as exc:  # "Invalid IPv6 URL": a '[' without its ']'
        raise UrlError(f"not a URL: {_shown(text)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlError(f"not an ftp:// or ftps:// URL: {_shown(text)}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UrlError(f"bad port in {_shown(text)}: {exc}") from None
    if not host:
        raise UrlError(f"no host in {_shown(text)}")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if any(c in (user or "") + (password or "") for c in "\r\n\0"):  # USER/PASS would carry it
        raise UrlError(f"the user name or password of {_shown(text)} contains a line break or "
                       "NUL (%0A, %0D or %00), which no FTP command can carry")  # fmt: skip
    after_host = text.partition("://")[2][len(parts.netloc) :]
    path = unquote(after_host) or "/"
    if any(c in path for c in "\r\n\0"):
        raise UrlError(f"the path of {_shown(text)} contains a line break or NUL (%0A, %0D or "
                       "%00), which no FTP command can carry")  # fmt: skip
    if not path.startswith("/"):
        path = "/" + path
    return FtpUrl(
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        path=path,
        user=user,
        password=password,
        implicit_tls=scheme == "ftps",
    )


def netrc_credentials(
    host: str, user: str | None, path: Path | None = None
) -> tuple[str, str] | None:
    """(login, password) from ~/.netrc (or ``path``) for ``host``; None when absent or unreadable.

    When ``user`` is given, the entry must be for that login.
    """
    try:
        entries = netrc.netrc(str(path) if path else None)
    except (OSError, netrc.NetrcParseError):
        return None
    found = entries.authenticators(host)
    if found is None:
        return None
    login, _, password = found
    if not login or password is None or (user is not None and login != user):
        return None
    return login, password
