"""Settings: TOML file + PASV_* environment -> one frozen, validated Settings value."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(Exception):
    """A configuration problem, naming the file, the key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSection(_Section):
    host: str | None = Field(None, description="address to listen on; none = every interface")
    port: int = Field(2121, ge=0, le=65535)
    data_dir: Path = Path("pasv-data")
    banner: str = "pasv FTP server ready."
    workers: int = Field(1, ge=1, le=64)
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

    @field_validator("umask", "chmod_mask", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if isinstance(value, str):  # "022" from the environment or a quoted TOML value
            try:
                return int(value.strip().removeprefix("0o"), 8)
            except ValueError:
                raise ValueError('expected an octal mode like "022"') from None
        return value

    @field_validator("host")
    @classmethod
    def _host_is_ip(cls, value: str | None) -> str | None:
        if value in (None, "", "*"):
            return None
        if value == "localhost":
            return value
        ipaddress.ip_address(value)
        return value


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


class AdminSection(_Section):
    enabled: bool = Field(True, description="serve the admin HTTP API and web console")
    host: str = Field("127.0.0.1", description="address of the admin listener")
    port: int = Field(8021, ge=0, le=65535)
    tls: bool = Field(False, description="HTTPS with the FTP server's certificate")
    audit_log: Path | None = Field(None, description="default: <data_dir>/admin-audit.log")
    console_group: str = Field(
        "admin", description="members of this group may log in to the console with a password"
    )

    @field_validator("host")
    @classmethod
    def _host_is_ip(cls, value: str) -> str:
        if value != "localhost":
            ipaddress.ip_address(value)
        return value


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
        if isinstance(value, str):  # "10.0.0.5, 10.0.1.0/24" from the environment
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if isinstance(value, list | tuple):
            try:
                return tuple(ipaddress.ip_network(str(item), strict=True) for item in value)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return value

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
        description="seconds after which a silent node counts as dead and its sessions and "
        "upload locks are released; nodes beat three times as often",
    )


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
    modes: ModesSection = ModesSection()
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
        if section in Settings.model_fields and key:
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


def _describe(exc: ValidationError, source: str) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
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
        source = f"{source} + {ENV_PREFIX}* environment" if path else f"{ENV_PREFIX}* environment"
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
