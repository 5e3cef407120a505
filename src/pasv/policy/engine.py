"""The policy engine: every check in one order, each refusal a typed error with its text."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pasv.policy.access import Access, RateLimits
from pasv.policy.limits import minutes_left
from pasv.policy.models import Ban, Group, IpRule, Member, Perm, Rule, User
from pasv.policy.names import NamePatterns
from pasv.policy.network import IpRules, in_networks
from pasv.policy.options import Messages, PolicySettings, resolve
from pasv.policy.permissions import Decision, RuleBook
from pasv.protocol.errors import (
    LoginRefused,
    Refused,
)

__all__ = ["Policy", "PolicyData", "SessionCounts"]


@dataclass(frozen=True, slots=True)
class PolicyData:
    """Everything an operator configured, as stored."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    messages: Messages = field(default_factory=Messages)
    groups: Mapping[str, Group] = field(default_factory=dict)
    members: Mapping[str, Member] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    ip_rules: tuple[IpRule, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionCounts:
    """Logged-in sessions elsewhere (all workers), counted before this login is added."""

    same_ip: int = 0
    same_user: int = 0
    groups: Mapping[str, int] = field(default_factory=dict)


_serials = itertools.count(1)


class Policy:
    """A compiled, immutable policy; rebuilt when the stored policy changes."""

    def __init__(self, data: PolicyData, base: PolicySettings) -> None:
        self.serial = next(_serials)  # an Access names the policy it was built under
        self.data = data
        self.messages = data.messages
        self.server = resolve(base, data.settings)
        self.rules = RuleBook(data.rules)
        self.ip = IpRules(data.ip_rules)
        self._settings: dict[tuple[str, bool], PolicySettings] = {}
        self._allowlisted: dict[str, bool] = {}
        self._grouped: dict[User, User] = {}
        self._access: dict[User, Access] = {}
        self.counts_logins = self._any_login_limit()
        # whether anyone may have a storage quota: then uploads note who made each file, so a
        # deletion gives the bytes back to that user's usage (not the deleter's)
        self.counts_owners = any(
            layer.get(key) for layer in self._layers() for key in ("quota_bytes", "quota_files")
        ) or bool(self.server.quota_bytes or self.server.quota_files)
        self.login_checks = self.counts_logins or any(rule.scope for rule in data.ip_rules)
        # whether any login at all may need TLS (else USER skips resolving the user's settings)
        self.tls_logins = self.server.require_tls_login or any(
            layer.get("require_tls_login") for layer in self._layers()
        )

    def _layers(self) -> list[Mapping[str, Any]]:
        layers = [self.data.settings]
        layers += [g.options for g in self.data.groups.values()]
        layers += [m.options for m in self.data.members.values()]
        return layers

    def _any_login_limit(self) -> bool:
        keys = ("max_sessions_per_ip", "max_sessions_per_user", "max_users")
        return any(layer.get(key) for layer in self._layers() for key in keys) or any(
            getattr(self.server, key) for key in keys
        )

    # --- who is who ------------------------------------------------------------------------
    def groups_of(self, name: str) -> tuple[str, ...]:
        member = self.data.members.get(name)
        return member.groups if member is not None else ()

    def with_groups(self, user: User) -> User:
        """The user with its groups filled in, one object for equal users (memoised: the same
        users log in again, and their sessions share the object and its Access)."""
        found = self._grouped.get(user)
        if found is None:
            if not self.data.members:
                groups = user.groups
            else:
                groups = () if user.anonymous else self.groups_of(user.name)
            found = user if groups == user.groups else dataclasses.replace(user, groups=groups)
            if len(self._grouped) >= 4096:
                self._grouped.clear()
            self._grouped[user] = found
        return found

    def settings_for_name(self, name: str, *, anonymous: bool = False) -> PolicySettings:
        """Settings by user name alone (at USER, before the password is known)."""
        return self.settings_for(User(name, "", Perm.NONE, anonymous))

    def settings_for(self, user: User) -> PolicySettings:
        """Global, then the user's groups (the first listed wins), then the user's own."""
        key = (user.name, user.anonymous)
        found = self._settings.get(key)
        if found is None:
            member = None if user.anonymous else self.data.members.get(user.name)
            layers: list[Mapping[str, Any]] = []
            for name in reversed(member.groups if member else ()):
                group = self.data.groups.get(name)
                if group is not None:
                    layers.append(group.options)
            if member is not None:
                layers.append(member.options)
            found = self._settings[key] = resolve(self.server, *layers)
        return found

    # --- connect ---------------------------------------------------------------------------
    def check_connect(self, ip: str, *, clients: int, ban: Ban | None, now: float) -> None:
        """Banned, then server-wide IP rules, then the number of clients (this one included)."""
        if ban is not None and ban.until > now and not self.never_banned(ip):
            minutes = minutes_left(ban.until, now)
            raise Refused(self.messages.say("banned", reason=ban.reason, minutes=minutes))
        if not self.ip.check(ip, ("",)).allowed:
            raise Refused(self.messages.say("server_ip_denied", ip=ip))
        if clients > self.server.max_clients:
            raise Refused(self.messages.say("too_many_users", limit=self.server.max_clients))

    def never_banned(self, ip: str) -> bool:
        found = self._allowlisted.get(ip)
        if found is None:
            if len(self._allowlisted) >= 4096:
                self._allowlisted.clear()
            found = self._allowlisted[ip] = in_networks(ip, self.server.ban_allowlist)
        return found

    # --- login -----------------------------------------------------------------------------
    def check_login(self, user: User, ip: str, counts: SessionCounts) -> None:
        """IP rules of the user and its groups, then per-IP, per-user and per-group sessions."""
        if not self.login_ip_allowed(user, ip):
            raise LoginRefused(self.messages.say("unauthorized_ip"))
        per_ip, per_user, *per_group = self.login_limits(user)
        if per_ip and counts.same_ip >= per_ip:
            raise LoginRefused(self.messages.say("per_ip", limit=per_ip))
        if per_user and counts.same_user >= per_user:
            raise LoginRefused(self.messages.say("per_user", limit=per_user, user=user.name))
        for name, limit in zip(user.groups, per_group, strict=True):
            if limit and counts.groups.get(name, 0) >= limit:
                raise Refused(self.messages.say("group_full", group=name, limit=limit))

    def login_ip_allowed(self, user: User, ip: str) -> bool:
        """May ``user`` log in from ``ip`` under the IP rules of its groups and its own?"""
        scopes = (*[f"group:{g}" for g in user.groups], f"user:{user.name}")
        return self.ip.check(ip, scopes).allowed

    def login_limits(self, user: User) -> tuple[int, ...]:
        """The sessions ``user`` may have per IP address, in all, and then in each of its
        groups (as ``user.groups`` lists them); 0 for no limit."""
        settings = self.settings_for(user)
        groups = self.data.groups
        per_group = [
            group.options.get("max_users", 0) if group is not None else 0
            for group in map(groups.get, user.groups)
        ]
        return (settings.max_sessions_per_ip, settings.max_sessions_per_user, *per_group)

    # --- per command -----------------------------------------------------------------------
    def access(self, user: User) -> Access:
        """The user's compiled access (memoised; sessions keep theirs until the policy changes)."""
        found = self._access.get(user)
        if found is None:
            settings = self.settings_for(user)
            found = Access(
                user,
                settings,
                self.rules.for_user(user),
                self.names_for(settings),
                self.messages,
                (self._rates(user, settings, "upload"), self._rates(user, settings, "download")),
                serial=self.serial,
            )
            if len(self._access) >= 4096:
                self._access.clear()
            self._access[user] = found
        return found

    def _rates(self, user: User, settings: PolicySettings, way: str) -> RateLimits:
        """Bandwidth buckets for one direction: the user's, each group's, the server's."""
        limits: list[tuple[str, int]] = []
        own = getattr(settings, f"{way}_rate")
        if own:
            limits.append((f"u:{user.name}", own))
        for name in user.groups:
            group = self.data.groups.get(name)
            rate = group.options.get(f"group_{way}_rate", 0) if group else 0
            if rate:
                limits.append((f"g:{name}", rate))
        server = getattr(self.server, f"server_{way}_rate")
        if server:
            limits.append(("s", server))
        return tuple(limits)

    def decide(self, user: User, perm: Perm, path: str) -> Decision:
        return self.access(user).decide(perm, path)

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _patterns(forbidden: tuple[str, ...], hidden: tuple[str, ...]) -> NamePatterns:
        return NamePatterns(forbidden, hidden)

    def names_for(self, settings: PolicySettings) -> NamePatterns:
        return self._patterns(settings.forbidden_names, settings.hidden_names)
