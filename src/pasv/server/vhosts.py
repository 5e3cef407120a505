"""Virtual hosts (RFC 7151 HOST, and the TLS server name): each with its banner, files root and
the accounts that may log in there."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pasv.config import HostSection, Settings
from pasv.policy.models import User
from pasv.protocol.codes import ReplyCode
from pasv.protocol.replies import Reply, make_reply

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class VirtualHost:
    """One configured host, as sessions use it."""

    name: str
    names: tuple[str, ...]
    greetings: Mapping[str, Reply]  # per language: the 220 answer to HOST (and the greeting
    # of implicit FTPS named by SNI); a language without its own banner gets the default's
    banner: str
    root: Path
    anonymous_root: Path
    users: frozenset[str] | None  # None: every account
    has_certificate: bool

    def greeting(self, lang: str) -> Reply:
        return self.greetings.get(lang) or self.greetings[""]

    def admits(self, user: User) -> bool:
        """May this account log in on this host?"""
        if self.users is None:
            return True
        return (ANONYMOUS if user.anonymous else user.name) in self.users

    def admits_anonymous(self) -> bool:
        return self.users is None or ANONYMOUS in self.users


def is_address(text: str) -> bool:
    """An IP literal as HOST may carry it: ``192.0.2.1``, ``::1`` or ``[::1]``."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def normalise(name: str) -> str:
    """``FTP.Example.COM.`` -> ``ftp.example.com``."""
    return name.strip().rstrip(".").lower()


def _host(settings: Settings, cfg: HostSection) -> VirtualHost:
    banner = cfg.banner if cfg.banner is not None else settings.server.banner
    banners = cfg.banners if cfg.banner is not None else settings.server.banners
    users = None if "*" in cfg.users else frozenset(cfg.users)
    greetings = {lang: make_reply(ReplyCode.SERVICE_READY, text) for lang, text in banners.items()}
    greetings[""] = make_reply(ReplyCode.SERVICE_READY, banner)
    return VirtualHost(
        name=cfg.name,
        names=cfg.names,
        greetings=greetings,
        banner=banner,
        root=settings.host_root(cfg),
        anonymous_root=cfg.anonymous_root or settings.anonymous_root,
        users=users,
        has_certificate=cfg.certificate is not None,
    )


class HostTable:
    """The configured hosts by every name they answer to, and the one used without HOST."""

    __slots__ = ("_by_name", "default", "hosts")

    def __init__(self, settings: Settings) -> None:
        self.hosts = tuple(_host(settings, cfg) for cfg in settings.hosts)
        self._by_name = {name: host for host in self.hosts for name in host.names}
        default = settings.server.default_host
        self.default = self._by_name[normalise(default)] if default else None

    def __bool__(self) -> bool:
        return bool(self.hosts)

    def find(self, name: str) -> VirtualHost | None:
        return self._by_name.get(normalise(name))
