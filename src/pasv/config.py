"""Settings: TOML file + PASV_* environment -> one frozen, validated Settings value."""

from __future__ import annotations

import codecs
import functools
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from pasv.policy.network import parse_ip, unmapped_network


class ConfigError(Exception):
    """A configuration problem, naming the file, the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSection(_Section):
    host: str | None = Field(None, description="address to listen on; none = every interface")
    port: int = Field(2121, ge=0, le=65535)
    data_dir: Path = Path("pasv-data")
    banner: str = "pasv FTP server ready."
    workers: int | Literal["auto"] = Field(
        "auto", description='worker processes sharing the port; "auto" = one per CPU core'
    )
    backlog: int = Field(4096, ge=16)
    max_line_length: int = Field(4096, ge=64, le=1_048_576)
    max_sessions: int = Field(2000, ge=1)
    listing_cache_ttl: float = Field(
        1.0, ge=0, description="seconds a listing of an unchanged directory may be reused; 0 = off"
    )
    user: str | None = Field(None, description="started as root: serve as this user (pasv/nobody)")
    group: str | None = Field(None, description="started as root: serve as this group (user's)")
    allow_root: bool = Field(False, description="started as root: keep serving as root")
    umask: int = Field(0o022, ge=0, le=0o777, description="for uploaded files and new directories")
    chmod_mask: int = Field(0o755, ge=0, le=0o777, description="SITE CHMOD may set these bits only")
    language: str = Field(
        "en", description="reply language until a client sends LANG: en, or zh (Simplified)"
    )
    banners: dict[str, str] = Field(
        default_factory=dict, description='the banner in other languages: {zh = "…"}'
    )
    default_host: str | None = Field(
        None, description="the virtual host of a session that sends no HOST; none = this server"
    )
    legacy_encoding: str | None = Field(
        None,
        description="names of clients that do not speak UTF-8 (Windows Explorer, ftp.exe): "
        '"gb18030", "gbk", "big5", "cp1251" …; none = off (a line that is not UTF-8 is latin-1)',
    )
    legacy_encoding_mode: Literal["detect", "default"] = Field(
        "detect",
        description='"detect": a session is served in legacy_encoding from its first line that '
        'is not UTF-8; "default": every session that does not send OPTS UTF8 ON is',
    )

    @field_validator("umask", "chmod_mask", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if isinstance(value, str):  # "022" from the environment or a quoted TOML value
            try:
                return int(value.strip().removeprefix("0o"), 8)
            except ValueError:
                raise ValueError('expected an octal mode like "022"') from None
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return _language_tag(value)

    @field_validator("legacy_encoding")
    @classmethod
    def _legacy_encoding(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            name = codecs.lookup(value.strip()).name
        except LookupError:
            raise ValueError(f'unknown encoding {value!r}; for example "gb18030"') from None
        ascii_bytes = bytes(range(128))
        try:
            ascii_compatible = (
                ascii_bytes.decode(name) == ascii_bytes.decode("ascii")
                and ascii_bytes.decode("ascii").encode(name) == ascii_bytes
                and name not in _NOT_NAME_ENCODINGS
                and not name.startswith("iso2022")  # stateful: ESC sequences switch sets
            )
        except (UnicodeError, LookupError):  # LookupError: not a text encoding (rot13)
            ascii_compatible = False
        if not ascii_compatible:
            raise ValueError(f"{value!r} does not keep ASCII as it is; FTP commands are ASCII")
        if name in ("utf-8", "utf-8-sig"):
            raise ValueError("UTF-8 is always spoken; name the clients' other encoding")
        return name

    @functools.cached_property
    def charsets(self) -> tuple[str, ...]:
        """What a session that has not chosen reads lines in, its own (its replies') first."""
        legacy = self.legacy_encoding
        if legacy is None:
            return ("utf-8",)
        return (legacy, "utf-8") if self.legacy_encoding_mode == "default" else ("utf-8", legacy)

    @field_validator("banners")
    @classmethod
    def _banner_languages(cls, value: dict[str, str]) -> dict[str, str]:
        return {_language_tag(lang): text for lang, text in value.items()}

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            count = int(value)
        except (TypeError, ValueError):
            raise ValueError('expected a number of workers (1-64) or "auto"') from None
        if isinstance(value, bool) or (count != value and not isinstance(value, str)):
            raise ValueError('expected a whole number of workers (1-64) or "auto"')
        if not 1 <= count <= 64:
            raise ValueError('expected a number of workers (1-64) or "auto"')
        return count

    @property
    def worker_count(self) -> int:
        """The worker processes to run: ``workers``, or one per CPU this process may use."""
        if self.workers != "auto":
            return self.workers
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        return max(1, min(64, cores))

    @field_validator("host")
    @classmethod
    def _host_is_ip(cls, value: str | None) -> str | None:
        if value in (None, "", "*"):
            return None
        if value == "localhost":
            return value
        ipaddress.ip_address(value)
        return value


# codecs that keep ASCII but are not file-name encodings
_NOT_NAME_ENCODINGS = frozenset({"idna", "unicode-escape", "raw-unicode-escape"})

_LANGUAGE_TAGS = {"en": "en", "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-hans": "zh-Hans",
                  "zh-sg": "zh-Hans"}  # fmt: skip


def _language_tag(value: str) -> str:
    found = _LANGUAGE_TAGS.get(value.strip().lower())
    if found is None:
        raise ValueError(f"unknown language {value!r}; use en or zh (Simplified Chinese)")
    return found


class PassiveOverride(_Section):
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    address: ipaddress.IPv4Address


class PassiveSection(_Section):
    ports: tuple[int, int] = (50000, 50100)
    address: ipaddress.IPv4Address | None = Field(
        None, description="public (masquerade) IPv4 address announced in 227 replies"
    )
    overrides: tuple[PassiveOverride, ...] = ()

    @field_validator("ports", mode="before")
    @classmethod
    def _parse_range(cls, value: Any) -> Any:
        if isinstance(value, str):
            low, sep, high = value.partition("-")
            if not sep or not low.strip().isdigit() or not high.strip().isdigit():
                raise ValueError('expected a range like "50000-50100"')
            return (int(low), int(high))
        return value

    @model_validator(mode="after")
    def _check_range(self) -> PassiveSection:
        low, high = self.ports
        if not (1024 <= low <= high <= 65535):
            raise ValueError("passive ports must satisfy 1024 <= low <= high <= 65535")
        return self


class AnonymousSection(_Section):
    enabled: bool = False
    root: Path | None = Field(None, description="default: <data_dir>/anonymous")


class TimeoutSection(_Section):
    login: float = Field(60.0, gt=0)
    idle: float = Field(300.0, gt=0)
    data_connect: float = Field(30.0, gt=0)


class LoginSection(_Section):
    max_failures: int = Field(3, ge=1)
    failure_delay: float = Field(1.0, ge=0)


class LoggingSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    xferlog: Path | None = Field(None, description="default: <data_dir>/xferlog")


class TlsSection(_Section):
    enabled: bool = Field(True, description="offer AUTH TLS and the implicit-TLS listener")
    certificate: Path | None = Field(
        None, description="PEM certificate chain; none = a self-signed one in <data_dir>/tls/"
    )
    key: Path | None = Field(None, description="PEM private key (default: in the certificate file)")
    implicit: bool = Field(True, description="listen for implicit TLS (ftps://) as well")
    implicit_port: int = Field(9990, ge=0, le=65535)
    require_login_tls: bool = Field(False, description="refuse USER/PASS on a plain connection")
    require_data_tls: bool = Field(False, description="refuse transfers without PROT P")
    anonymous_exempt: bool = Field(True, description="anonymous logins need no TLS")
    require_session_reuse: bool = Field(
        True, description="a TLS data connection must resume the control connection's session"
    )
    handshake_timeout: float = Field(30.0, gt=0)
    session_lifetime: int = Field(
        604_800,
        ge=1,
        le=2**31 - 1,
        description="seconds a TLS session can be resumed by a data connection (OpenSSL's "
        "default is 7,200; TLS 1.3 clients keep a ticket at most 7 days)",
    )
    allow_ccc: bool = Field(
        False, description="accept CCC: the control connection may go back to clear text"
    )
    require_close_notify: bool = Field(
        True,
        description="a TLS upload is complete only when the client ends it with close_notify "
        "(or ALLO announced its exact size); off: 226, but logged incomplete",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TlsSection:
        if self.key is not None and self.certificate is None:
            raise ValueError("tls.key is set without tls.certificate")
        if not self.enabled and (self.require_login_tls or self.require_data_tls):
            raise ValueError("TLS is required (require_login_tls/require_data_tls) but disabled")
        return self


class UploadsSection(_Section):
    mode: Literal["standard", "atomic", "atomic-resume"] = Field(
        "standard",
        description="standard: write in place; atomic: write aside, rename over the target "
        "when complete; atomic-resume: atomic, but a failed upload is kept to be resumed",
    )
    fsync: bool = Field(False, description="flush each upload to disk before its 226")


class HostSection(_Section):
    """One virtual host (RFC 7151 HOST; the TLS server name, SNI, picks it too)."""

    name: str = Field(description="the DNS name clients send in HOST (and in SNI)")
    aliases: tuple[str, ...] = Field((), description="other names of the same host")
    banner: str | None = Field(None, description="the 220 reply to HOST; default: the server's")
    banners: dict[str, str] = Field(default_factory=dict, description="in other languages")
    root: Path | None = Field(
        None,
        description="files root of this host (users' homes resolve under it); "
        "default: <data_dir>/hosts/<name>",
    )
    anonymous_root: Path | None = Field(None, description="default: [anonymous] root")
    certificate: Path | None = Field(None, description="PEM chain; default: the server's")
    key: Path | None = Field(None, description="PEM private key (default: in the certificate)")
    users: tuple[str, ...] = Field(
        ("*",), description='accounts that may log in here ("anonymous" included); "*" = all'
    )

    @field_validator("name", "aliases", mode="after")
    @classmethod
    def _names(cls, value: Any) -> Any:
        def clean(name: str) -> str:
            name = name.strip().rstrip(".").lower()
            if not name or " " in name or name.startswith("["):
                raise ValueError(f"not a host name: {name!r}")
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return name
            raise ValueError(f"{name!r} is an address; virtual hosts are named by DNS names")

        return tuple(clean(n) for n in value) if isinstance(value, tuple) else clean(value)

    @field_validator("banners")
    @classmethod
    def _banner_languages(cls, value: dict[str, str]) -> dict[str, str]:
        return {_language_tag(lang): text for lang, text in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> HostSection:
        if self.key is not None and self.certificate is None:
            raise ValueError(f"hosts {self.name}: key is set without certificate")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class MetricsSection(_Section):
    enabled: bool = Field(True, description="serve Prometheus metrics on their own listener")
    listen: str = Field(
        "127.0.0.1:9121", description='"host:port" of the telemetry listener ([::1]:9121 for IPv6)'
    )

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        split_listen(value)
        return value

    @property
    def address(self) -> tuple[str, int]:
        return split_listen(self.listen)


def split_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9121" or "[::1]:9121" -> (host, port); a clear error otherwise."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError('expected "host:port", e.g. "127.0.0.1:9121"')
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ValueError(f"{host!r} is not an IP address (or localhost)") from None
    return host, int(port)


HOOK_EVENTS = (
    "upload_complete",
    "download_complete",
    "login_failed",
    "ban",
    "quota_reached",
    "file_deleted",
)


class HookSection(_Section):
    name: str = Field("", description="shown in logs and metrics; default: hook-N")
    events: tuple[str, ...] = Field(HOOK_EVENTS, description="events sent to this hook")
    command: tuple[str, ...] = Field(
        (), description="program and arguments (no shell); the event as JSON on stdin"
    )
    url: str = Field("", description="http(s) URL the event is POSTed to as JSON")
    secret: str = Field("", repr=False, description="HMAC-SHA256 key for the signature header")
    ca_file: Path | None = Field(
        None, description="PEM CA certificates for an https url; default: the system's"
    )
    timeout: float = Field(10.0, gt=0, le=3600)
    retries: int = Field(3, ge=0, le=100, description="attempts after the first one")
    backoff: float = Field(1.0, ge=0, le=3600, description="first wait between attempts (doubles)")
    queue: int = Field(1000, ge=1, le=1_000_000, description="events waiting; more are dropped")

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            import shlex

            return tuple(shlex.split(value))
        return value

    @field_validator("events")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(HOOK_EVENTS))
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {', '.join(HOOK_EVENTS)}")
        if not value:
            raise ValueError("a hook needs at least one event")
        return value

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("ca_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value}: no such file")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> HookSection:
        if bool(self.command) == bool(self.url):
            raise ValueError("a hook needs either command or url (not both)")
        return self


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(value: Any) -> Any:
    """Addresses and networks: a TOML list, or "10.0.0.5, 10.0.1.0/24" from the environment.
    An IPv4-mapped one (``::ffff:10.0.0.5``, as a dual-stack socket shows an IPv4 peer) is
    taken as the IPv4 address or network it maps, the form its peers are compared in."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    if isinstance(value, list | tuple):
        try:
            nets = (ipaddress.ip_network(str(item), strict=True) for item in value)
            return tuple(unmapped_network(net) for net in nets)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    return value


class AdminSection(_Section):
    enabled: bool = Field(True, description="serve the admin HTTP API and web console")
    host: str = Field("127.0.0.1", description="address of the admin listener")
    port: int = Field(8021, ge=0, le=65535)
    tls: bool = Field(False, description="HTTPS with the FTP server's certificate")
    audit_log: Path | None = Field(None, description="default: <data_dir>/admin-audit.log")
    console_group: str = Field(
        "admin", description="members of this group may log in to the console with a password"
    )
    plain_http: bool = Field(
        False,
        description="allow plain HTTP on a host other than loopback (e.g. behind a TLS proxy "
        "on a private network); tokens and passwords cross that network readable",
    )
    max_connections: int = Field(
        64,
        ge=1,
        le=100_000,
        description="admin connections open at once (TLS ones from their accept, during the "
        "handshake too); one more is answered 503 and closed",
    )
    max_connections_per_address: int = Field(
        16,
        ge=1,
        le=100_000,
        description="admin connections open at once from one address (trusted_proxies: no "
        "share, only max_connections); one more is answered 503 and closed",
    )
    trusted_proxies: tuple[Network, ...] = Field(
        (),
        description="reverse proxies (addresses or networks) whose X-Forwarded-For and "
        "X-Forwarded-Proto name the client; default: none, the peer is the client",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        return _networks(value)

    @field_validator("host")
    @classmethod
    def _host_is_ip(cls, value: str) -> str:
        if value != "localhost":
            ipaddress.ip_address(value)
        return value

    @model_validator(mode="after")
    def _share_within_the_cap(self) -> AdminSection:
        share = self.max_connections_per_address
        if "max_connections_per_address" in self.model_fields_set and share > self.max_connections:
            raise ValueError(
                f"admin.max_connections_per_address = {share} is more than admin.max_connections "
                f"= {self.max_connections}: one address could never have that many; lower it, "
                "or raise admin.max_connections"
            )
        return self

    @property
    def address_share(self) -> int:
        """Connections one address may hold (the default share, cut to a lower cap)."""
        return min(self.max_connections_per_address, self.max_connections)

    @model_validator(mode="after")
    def _no_plain_http_off_loopback(self) -> AdminSection:
        address = parse_ip(self.host)  # ::ffff:127.0.0.1 is loopback too
        loopback = self.host == "localhost" or (address is not None and address.is_loopback)
        if self.enabled and not self.tls and not loopback and not self.plain_http:
            raise ValueError(
                f"admin.host = {self.host!r} would serve the admin API and console over plain "
                "HTTP beyond this machine: tokens and passwords would cross the network "
                "readable. Set admin.tls = true (HTTPS with the FTP server's certificate), "
                'keep admin.host = "127.0.0.1" (and reach it through an SSH tunnel), or set '
                "admin.plain_http = true when a TLS proxy on a private network is in front"
            )
        return self


class ProxySection(_Section):
    """The PROXY protocol (HAProxy's v1 and v2) from TCP load balancers: docs/deployment.md."""

    enabled: bool = Field(False, description="read a PROXY header from the `trusted` balancers")
    trusted: tuple[Network, ...] = Field(
        (), description="balancer addresses or networks whose connections start with a header"
    )
    header_timeout: float = Field(5.0, gt=0, description="seconds a balancer has to send it")
    data_header: bool = Field(
        True,
        description="passive data connections from a balancer start with a header too, whose "
        "source must be the control connection's client; off: same balancer is enough",
    )

    @field_validator("trusted", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return _networks(value)

    @model_validator(mode="after")
    def _has_balancers(self) -> ProxySection:
        if self.enabled and not self.trusted:
            raise ValueError("proxy.enabled needs proxy.trusted: the balancers' addresses")
        return self


class DrainSection(_Section):
    """SIGTERM: refuse new sessions, let running transfers finish, then stop."""

    timeout: float = Field(
        30.0, ge=0, description="seconds running transfers may go on after SIGTERM; then cut"
    )
    reason: str = Field(
        "node draining for shutdown",
        min_length=1,
        max_length=200,
        description="said in the 421: 'Service not available, closing control connection. (…)'",
    )

    @field_validator("reason")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ord(char) < 32 for char in value):
            raise ValueError("the reason is one line of text, without control characters")
        return value


class AccountsSection(_Section):
    url: str | None = Field(
        None,
        description="postgresql://user:password@host/db for accounts, policy and cluster "
        "state shared by several nodes; none = <data_dir>/accounts.sqlite3",
    )
    pool_size: int = Field(8, ge=1, le=256, description="PostgreSQL connections per process")
    timeout: float = Field(3.0, gt=0, description="seconds to wait for the database")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        scheme = value.partition(":")[0].lower()
        if scheme not in ("postgresql", "postgres", "sqlite"):
            raise ValueError("expected postgresql://... (or sqlite:///path/to/accounts.sqlite3)")
        return value


class ClusterSection(_Section):
    node: str | None = Field(
        None, description="this node's name in the cluster tables; none = host name:port"
    )
    heartbeat: float = Field(
        10.0,
        ge=0.5,
        le=3600,
        description="seconds within which a crashed node's sessions and upload locks are "
        "released; nodes beat three times as often, and two missed beats mean dead",
    )


class S3Section(_Section):
    endpoint: str | None = Field(
        None, description="e.g. http://127.0.0.1:8333; none = AWS's endpoint for the region"
    )
    region: str = "us-east-1"
    bucket: str = Field("", description="the bucket holding the files (it must exist)")
    prefix: str = Field("", description="users' homes are <prefix>/<home> in the bucket")
    access_key: str | None = Field(
        None, description="none = the AWS chain (AWS_ACCESS_KEY_ID, ~/.aws, instance role)"
    )
    secret_key: SecretStr | None = None
    addressing: Literal["path", "virtual"] = "path"
    part_size_mib: int = Field(8, ge=5, le=5120, description="multipart upload part size")
    rename_limit: int = Field(
        1000, ge=0, description="most objects a directory rename copies; 0 = refuse them"
    )
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _keys_together(self) -> S3Section:
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("set both access_key and secret_key, or neither")
        return self


class FolderSection(_Section):
    path: str = Field(description='where the folder appears, one name below /: "/archive"')
    backend: Literal["local", "s3"]
    location: str = Field(
        description="local: a host folder; s3: a key prefix in the bucket; {user} = user name"
    )
    users: tuple[str, ...] = Field((), description="only these users; empty = every user")

    @field_validator("path")
    @classmethod
    def _one_name(cls, value: str) -> str:
        name = value.strip("/")
        if not name or "/" in name or name in (".", ".."):
            raise ValueError('a virtual folder is one name below /, e.g. "/archive"')
        return "/" + name


class StorageSection(_Section):
    backend: Literal["local", "s3"] = Field(
        "local", description="where homes live: the local disk or an S3 bucket"
    )
    s3: S3Section = S3Section()
    folders: tuple[FolderSection, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> StorageSection:
        uses_s3 = self.backend == "s3" or any(f.backend == "s3" for f in self.folders)
        if uses_s3 and not self.s3.bucket:
            raise ValueError("S3 storage is used but storage.s3.bucket is not set")
        names = [f.path for f in self.folders]
        if len(names) != len(set(names)):
            raise ValueError("two virtual folders have the same path")
        return self


class ModesSection(_Section):
    deflate: bool = Field(True, description="offer MODE Z (deflate-compressed transfers)")
    deflate_level: int = Field(
        1, ge=0, le=9, description="MODE Z compression level until OPTS MODE Z LEVEL changes it"
    )
    block: bool = Field(True, description="offer MODE B (blocks with restart markers)")
    marker_interval: int = Field(
        1024 * 1024,
        ge=0,
        description="MODE B downloads: a restart marker after each this many bytes; 0 = none",
    )


class Settings(_Section):
    server: ServerSection = ServerSection()
    passive: PassiveSection = PassiveSection()
    anonymous: AnonymousSection = AnonymousSection()
    timeouts: TimeoutSection = TimeoutSection()
    login: LoginSection = LoginSection()
    logging: LoggingSection = LoggingSection()
    tls: TlsSection = TlsSection()
    uploads: UploadsSection = UploadsSection()
    proxy: ProxySection = ProxySection()
    drain: DrainSection = DrainSection()
    accounts: AccountsSection = AccountsSection()
    cluster: ClusterSection = ClusterSection()
    storage: StorageSection = StorageSection()
    modes: ModesSection = ModesSection()
    hosts: tuple[HostSection, ...] = ()

    @model_validator(mode="after")
    def _hosts(self) -> Settings:
        seen: set[str] = set()
        for host in self.hosts:
            for name in host.names:
                if name in seen:
                    raise ValueError(f"hosts: the name {name} is given twice")
                seen.add(name)
        default = self.server.default_host
        if default is not None and default.rstrip(".").lower() not in seen:
            raise ValueError(f"server.default_host: {default} is not a configured host")
        return self

    def host_root(self, host: HostSection) -> Path:
        return host.root or self.server.data_dir / "hosts" / host.name

    metrics: MetricsSection = MetricsSection()
    hooks: tuple[HookSection, ...] = ()

    @field_validator("hooks")
    @classmethod
    def _named_once(cls, hooks: tuple[HookSection, ...]) -> tuple[HookSection, ...]:
        names = [hook.name or f"hook-{index + 1}" for index, hook in enumerate(hooks)]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two hooks are named {name!r}; names must differ")
        return hooks

    admin: AdminSection = AdminSection()

    @model_validator(mode="after")
    def _admin_tls(self) -> Settings:
        if self.admin.enabled and self.admin.tls and not self.tls.enabled:
            raise ValueError("admin.tls uses the FTP server's certificate, but tls is disabled")
        return self

    @property
    def files_root(self) -> Path:
        return self.server.data_dir / "files"

    @property
    def anonymous_root(self) -> Path:
        return self.anonymous.root or self.server.data_dir / "anonymous"

    @property
    def accounts_db(self) -> Path:
        return self.server.data_dir / "accounts.sqlite3"

    @property
    def tls_dir(self) -> Path:
        return self.server.data_dir / "tls"

    @property
    def xferlog_path(self) -> Path:
        return self.logging.xferlog or self.server.data_dir / "xferlog"

    @property
    def audit_log_path(self) -> Path:
        return self.admin.audit_log or self.server.data_dir / "admin-audit.log"

    @property
    def session_log_path(self) -> Path:
        """Logins and refusals, one JSON object a line (written while the admin API is on)."""
        return self.server.data_dir / "sessions.log"


ENV_PREFIX = "PASV_"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """PASV_SECTION_KEY=value, e.g. PASV_SERVER_PORT=2121 or PASV_PASSIVE_ADDRESS=203.0.113.5."""
    result: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "PASV_CONFIG":
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section in Settings.model_fields and section != "hooks" and key:
            result.setdefault(section, {})[key] = value
    return result


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(
    exc: ValidationError,
    file: str,
    env: Mapping[str, Any],
    overrides: Mapping[str, Any],
) -> str:
    """Each problem named by where its value came from: a flag, a PASV_* variable or the file."""
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        key = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        source = file
        if len(loc) >= 2 and loc[1] in overrides.get(loc[0], {}):
            source = "command line"
        elif len(loc) >= 2 and loc[1] in env.get(loc[0], {}):
            source = f"{ENV_PREFIX}{loc[0].upper()}_{loc[1].upper()} (environment)"
        problems.append(f"{source}: {key}: {msg}")
    return "\n".join(problems)


def load_settings(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the TOML file (if any), then the environment, then explicit overrides (CLI flags)."""
    environ = os.environ if environ is None else environ
    if path is None and environ.get("PASV_CONFIG"):
        path = Path(environ["PASV_CONFIG"])
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    env = _env_overrides(environ)
    if env:
        data = _merge(data, env)
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, env, overrides or {})) from None
