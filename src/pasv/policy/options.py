"""Policy settings: one value per setting, layered global -> groups -> user; and the reply texts."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from pasv.policy.models import IpNetwork
from pasv.protocol.texts import said

__all__ = [
    "DEFAULTS",
    "Messages",
    "PolicySettings",
    "Ratio",
    "parse_option",
    "parse_size",
    "resolve",
]


@dataclass(frozen=True, slots=True)
class Ratio:
    """Upload:download ratio: every uploaded byte earns ``download / upload`` bytes of credit."""

    upload: int
    download: int

    @classmethod
    def parse(cls, text: str) -> Ratio:
        up, sep, down = text.partition(":")
        if not sep or not up.strip().isdigit() or not down.strip().isdigit():
            raise ValueError(f'expected a ratio like "1:3", got {text!r}')
        ratio = cls(int(up), int(down))
        if ratio.upload <= 0 or ratio.download < 0:
            raise ValueError("a ratio needs a positive upload part")
        return ratio

    def __str__(self) -> str:
        return f"{self.upload}:{self.download}"


_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Every tunable of the policy engine, resolved for one user (0 means unlimited / off)."""

    # connections (server-wide)
    max_clients: int = 2000
    max_sessions_per_ip: int = 0
    # logins (user and group)
    max_sessions_per_user: int = 0
    max_users: int = 0  # set on a group: that group's members logged in at once
    # anti-hammering (server-wide)
    hammer_connections: int = 100
    hammer_connect_window: float = 10.0
    hammer_failures: int = 5
    hammer_failure_window: float = 60.0
    ban_minutes: float = 15.0
    ban_max_minutes: float = 24 * 60.0
    ban_allowlist: tuple[IpNetwork, ...] = _LOOPBACK
    # names and listings
    forbidden_names: tuple[str, ...] = ()
    hidden_names: tuple[str, ...] = ()
    hide_denied: bool = False
    # credits and quotas
    ratio: Ratio | None = None
    initial_credit: int = 0
    credit_exempt: bool = False
    quota_bytes: int = 0
    quota_files: int = 0
    quota_keep_partial: bool = False
    # bandwidth in bytes per second
    upload_rate: int = 0
    download_rate: int = 0
    group_upload_rate: int = 0
    group_download_rate: int = 0
    server_upload_rate: int = 0
    server_download_rate: int = 0
    # TLS (FTPS): USER/PASS only over TLS; transfers only with PROT P
    require_tls_login: bool = False
    require_tls_data: bool = False
    # timeouts in seconds
    login_timeout: float = 60.0
    idle_timeout: float = 300.0
    data_timeout: float = 30.0
    stall_timeout: float = 120.0


DEFAULTS = PolicySettings()
KEYS: tuple[str, ...] = tuple(f.name for f in fields(PolicySettings))
# settings that only mean something server-wide (before anyone has logged in)
SERVER_ONLY = frozenset(
    {
        "max_clients",
        "hammer_connections",
        "hammer_connect_window",
        "hammer_failures",
        "hammer_failure_window",
        "ban_minutes",
        "ban_max_minutes",
        "ban_allowlist",
        "server_upload_rate",
        "server_download_rate",
    }
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_BYTE_KEYS = frozenset(
    {
        "initial_credit",
        "quota_bytes",
        "upload_rate",
        "download_rate",
        "group_upload_rate",
        "group_download_rate",
        "server_upload_rate",
        "server_download_rate",
    }
)


def parse_size(value: object) -> int:
    """``1048576``, ``"1M"``, ``"1MiB"``, ``"2.5G"`` -> bytes (binary units)."""
    if isinstance(value, bool):
        raise ValueError("expected a size, got a boolean")
    if isinstance(value, int):
        number = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f'expected a size like 1048576, "512K" or "2G", got {value!r}')
        number = int(float(match[1]) * _UNITS[match[2].lower()])
    if number < 0:
        raise ValueError("a size cannot be negative")
    return number


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _parse_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Iterable):
        return [str(part).strip() for part in value if str(part).strip()]
    raise ValueError(f"expected a list, got {value!r}")


def _parse_number(value: object, kind: type[int] | type[float]) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    try:
        number = kind(str(value))
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {value!r}") from None
    if number < 0:
        raise ValueError("must not be negative")
    return number


def parse_option(key: str, value: object) -> Any:
    """Validate one setting from TOML or the command line; raises ValueError naming the
    setting and saying what is wrong."""
    if key not in KEYS:
        raise ValueError(f"unknown setting {key!r}")
    try:
        return _parse(key, value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _parse(key: str, value: object) -> Any:
    default = getattr(DEFAULTS, key)
    if key in _BYTE_KEYS:
        return parse_size(value)
    if key == "ratio":
        if value in (None, "", "none", "off"):
            return None
        return value if isinstance(value, Ratio) else Ratio.parse(str(value))
    if key == "ban_allowlist":
        return tuple(ipaddress.ip_network(part, strict=False) for part in _parse_list(value))
    if isinstance(default, bool):
        return _parse_bool(value)
    if isinstance(default, int):
        return int(_parse_number(value, int))
    if isinstance(default, float):
        return float(_parse_number(value, float))
    if isinstance(default, tuple):
        return tuple(_parse_list(value))
    raise AssertionError(f"no parser for {key}")  # pragma: no cover


def show_option(value: object) -> Any:
    """A setting as it is written back to TOML."""
    if isinstance(value, Ratio):
        return str(value)
    if isinstance(value, tuple):
        return [str(part) for part in value]
    return value


def resolve(base: PolicySettings, *layers: Mapping[str, Any]) -> PolicySettings:
    """Apply override layers in order (later wins): global, then groups, then the user."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return dataclasses.replace(base, **merged) if merged else base


@dataclass(frozen=True, slots=True)
class Messages:
    """Reply texts; ``{placeholders}`` are filled in. Each can be replaced by the operator."""

    too_many_users: str = "Too many users - please try again later."
    group_full: str = (
        "Too many users - group {group} allows {limit} at a time, please try again later."
    )
    server_ip_denied: str = "Your address {ip} is not allowed to connect to this server."
    no_anonymous: str = "Sorry, no ANONYMOUS access allowed."
    unauthorized_ip: str = "Not logged in, unauthorized IP address."
    per_ip: str = "Not logged in, only {limit} session(s) from same IP allowed at a time."
    per_user: str = "Not logged in, only {limit} session(s) for user {user} allowed at a time."
    banned: str = "{reason}; banned for {minutes} minutes."
    ban_connections: str = "Too many connection attempts from your address"
    ban_failures: str = "Too many failed logins from your address"
    ban_manual: str = "Your address is banned by the administrator"
    permission: str = "Permission denied: {perm} is not allowed for you at {path}."
    prohibited_name: str = "Prohibited file name: {name}"
    insufficient_credit: str = "Sorry, insufficient credit for download - upload first."
    quota: str = "Exceeded storage allocation."
    quota_files: str = "Exceeded storage allocation: at most {limit} files."
    login_incorrect: str = "Login incorrect: unknown user name or wrong password."
    too_many_failures: str = "Too many failed login attempts ({count}); closing the connection."
    tls_required: str = (
        "TLS required: this server does not accept logins in clear text. Connect with "
        "explicit FTPS (AUTH TLS, e.g. curl --ssl-reqd, lftp set ftp:ssl-force true) or "
        "implicit FTPS (ftps://)."
    )
    login_timeout: str = "Login timeout ({seconds:g} seconds): closing control connection."
    idle_timeout: str = "Idle timeout ({seconds:g} seconds): closing control connection."
    stalled: str = "stalled: no data moved for {seconds:g} seconds"
    file_busy: str = "File busy: {name} is being uploaded by another session."
    directory_busy: str = "Directory busy: a file in {name} is being uploaded."
    upload_unconfirmed: str = (
        "Upload incomplete: the client closed the TLS data connection without close_notify, "
        "so the file may be cut short. Resume it with REST or APPE."
    )
    # the operator's texts in other languages: {"zh-Hans": {"permission": "…"}}
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Messages:
        """``name = text``; ``name.LANG = text`` (or a ``LANG`` table) for another language."""
        known = {f.name for f in fields(cls)} - {"translations"}
        plain: dict[str, str] = {}
        translated: dict[str, dict[str, str]] = {}
        for key, value in values.items():
            if isinstance(value, Mapping):  # a [messages.zh-Hans] table
                for name, text in value.items():
                    _translated(translated, known, str(name), key, text)
                continue
            name, dot, lang = key.partition(".")
            if dot:
                _translated(translated, known, name, lang, value)
            elif key in known:
                plain[key] = str(value)
            else:
                raise ValueError(f"unknown message {key!r}; known: {', '.join(sorted(known))}")
        plain.update(translated.pop("en", {}))
        return cls(**plain, translations=translated)

    def changed(self) -> dict[str, str]:
        """The texts that differ from the defaults (translations as ``name.LANG``)."""
        default = Messages()
        found = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "translations" and getattr(self, f.name) != getattr(default, f.name)
        }
        for lang, texts in sorted(self.translations.items()):
            for name, text in sorted(texts.items()):
                found[f"{name}.{lang}"] = text
        return found

    def say(self, name: str, /, **values: object) -> str:
        """The text ``name`` with its placeholders filled, sayable in the session's language."""
        return said("messages", name, getattr(self, name), **values)


LANGUAGES = {"en": "en", "zh": "zh-Hans", "zh-cn": "zh-Hans", "zh-hans": "zh-Hans",
             "zh-sg": "zh-Hans", "zh-hans-cn": "zh-Hans"}  # fmt: skip


def language_of(tag: str) -> str | None:
    """``ZH-CN`` -> ``zh-Hans``; None for a language pasv has no texts in."""
    return LANGUAGES.get(tag.strip().lower())


def _translated(
    into: dict[str, dict[str, str]], known: set[str], name: str, lang: str, text: object
) -> None:
    language = language_of(lang)
    if language is None:
        raise ValueError(f"message {name}.{lang}: unknown language {lang!r}; use en or zh")
    if name not in known:
        raise ValueError(f"unknown message {name!r}; known: {', '.join(sorted(known))}")
    into.setdefault(language, {})[name] = str(text)
