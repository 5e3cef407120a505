"""Management actions: the one code path behind both the CLI and the admin API.

Each action validates its input first and raises ``ValueError`` (or an ``AccountError``) with a
sentence saying what is wrong before anything is written.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pasv.accounts.base import AccountError, AccountNotFound
from pasv.accounts.policy_store import PolicyStore
from pasv.accounts.sqlbase import AccountDatabase
from pasv.config import Settings
from pasv.policy.credits import Usage
from pasv.policy.engine import Policy
from pasv.policy.models import Action, Ban, IpRule, Perm, Rule, Subject, User
from pasv.policy.network import parse_ip, unmapped_network
from pasv.policy.options import KEYS, parse_option, parse_size, show_option
from pasv.protocol import paths
from pasv.protocol.errors import FtpError
from pasv.server.app import base_policy
from pasv.server.registry import BanBook
from pasv.server.usage import measure_home

ACCOUNT_KEYS = frozenset({"home", "perms", "enabled", "groups"})


class InvalidInput(ValueError):
    """Input that cannot mean anything (a bad permission word, address, action): the CLI's
    exit status 2, where a refusal by the store (an unknown group) is 1."""


@dataclass(frozen=True, slots=True)
class Why:
    """The answer of `policy why`."""

    user: str
    perms: str
    path: str
    allowed: bool
    text: str
    rule: Rule | None


def parse_perms(text: str) -> Perm:
    try:
        return Perm.parse(text)
    except ValueError as exc:  # names the unknown word
        raise InvalidInput(str(exc)) from None


def parse_action(text: str) -> Action:
    try:
        return Action(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"action must be 'allow' or 'deny', not {text!r}") from None


def scope_for(user: str | None, group: str | None) -> str:
    if user and group:
        raise InvalidInput("give a user or a group, not both")
    return f"user:{user}" if user else f"group:{group}" if group else ""


class Manager:
    """The store operations a management front door (CLI, API, console) may make."""

    def __init__(
        self, accounts: AccountDatabase, settings: Settings, bans: BanBook | None = None
    ) -> None:
        self.accounts = accounts
        self.policy = PolicyStore(accounts)
        self.bans: BanBook = bans if bans is not None else self.policy
        self.settings = settings

    # --- users ----------------------------------------------------------------------------
    async def users(self) -> list[User]:
        return await self.accounts.list()

    async def user(self, name: str) -> User:
        found = await self.accounts.get(name)
        if found is None:
            raise AccountNotFound(f"no user named {name!r}")
        return found

    async def add_user(
        self,
        name: str,
        password: str,
        *,
        home: str = "",
        perms: str = "ALL",
        groups: list[str] | None = None,
    ) -> User:
        flags = parse_perms(perms)
        if groups:
            await asyncio.to_thread(self._known_groups, groups)
        user = await self.accounts.add(name, password, home=home, perms=flags)
        if groups:
            await asyncio.to_thread(self.policy.set_groups, name, groups)
        return user

    async def delete_user(self, name: str) -> bool:
        return await self.accounts.delete(name)

    async def set_password(self, name: str, password: str) -> None:
        await self.accounts.set_password(name, password)

    async def set_user(self, name: str, pairs: list[tuple[str, str]]) -> list[str]:
        """Account fields (home, perms, enabled, groups) and the user's own settings; every
        value is checked before the first is written."""
        await self.user(name)
        own = [(k, v) for k, v in pairs if k not in ACCOUNT_KEYS]
        for key, value in pairs:  # validate everything first
            if key == "perms":
                parse_perms(value)
            elif key == "enabled" and value.lower() not in _BOOLS:
                raise InvalidInput(f"enabled must be true or false, not {value!r}")
            elif key == "groups":
                await asyncio.to_thread(self._known_groups, _split(value))
        for key, value in own:
            parse_option(key, value)
        done = []
        for key, value in pairs:
            if key == "home":
                await self.accounts.set_home(name, value)
            elif key == "perms":
                await self.accounts.set_perms(name, parse_perms(value))
            elif key == "enabled":
                await self.accounts.set_enabled(name, _BOOLS[value.lower()])
            elif key == "groups":
                await asyncio.to_thread(self.policy.set_groups, name, _split(value))
            else:
                continue
            done.append(f"user {name}: {key} = {value}")
        if own:
            done += await asyncio.to_thread(self.set_options, f"user:{name}", own)
        return done

    def _known_groups(self, groups: list[str]) -> None:
        known = set(self.policy.groups())
        for group in groups:
            if group not in known:
                raise ValueError(f"no group named {group!r}; create it with: pasv group add")

    # --- groups and settings --------------------------------------------------------------
    def add_group(self, name: str, description: str = "") -> None:
        self.policy.add_group(name, description)

    def delete_group(self, name: str) -> bool:
        return self.policy.delete_group(name)

    def set_options(self, scope: str, pairs: list[tuple[str, Any]]) -> list[str]:
        """Set several settings, all or none."""
        lines: list[str] = []

        def work() -> None:
            for key, value in pairs:
                parsed = self.policy.set_option(scope, key, value)
                lines.append(f"{scope or 'global'}: {key} = {show_option(parsed)}")

        self.policy.atomically(work)
        return lines

    @staticmethod
    def check_unset(keys: list[str]) -> None:
        for key in keys:
            if key not in KEYS:
                raise ValueError(f"unknown setting {key!r}; see `pasv policy show`")

    def unset_options(self, scope: str, keys: list[str]) -> list[tuple[str, bool]]:
        return [(key, self.policy.unset_option(scope, key)) for key in keys]

    # --- rules ----------------------------------------------------------------------------
    def add_rule(self, action: str, path: str, perms: str, to: str = "*") -> Rule:
        try:
            subjects = tuple(Subject.parse(part) for part in to.split(","))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        rule = Rule(parse_action(action), subjects, _rule_path(path), parse_perms(perms))
        if rule.perms == Perm.NONE:
            raise InvalidInput("a rule needs at least one permission")
        number = self.policy.add_rule(rule)
        return Rule(rule.action, rule.subjects, rule.path, rule.perms, id=number)

    def delete_rule(self, number: int) -> bool:
        return self.policy.delete_rule(number)

    def add_ip_rule(
        self, action: str, network: str, user: str | None = None, group: str | None = None
    ) -> IpRule:
        scope = scope_for(user, group)
        try:
            # ::ffff:192.0.2.0/120 is 192.0.2.0/24: peers are compared as IPv4 (parse_ip)
            net = unmapped_network(ipaddress.ip_network(network.strip(), strict=False))
        except ValueError:
            raise InvalidInput(f"{network!r} is not an IP address or network") from None
        rule = IpRule(parse_action(action), net, scope)
        number = self.policy.add_ip_rule(rule)
        return IpRule(rule.action, rule.network, rule.scope, id=number)

    def delete_ip_rule(self, number: int) -> bool:
        return self.policy.delete_ip_rule(number)

    # --- bans -----------------------------------------------------------------------------
    def ban(self, address: str, minutes: float, reason: str) -> Ban:
        if not minutes > 0:
            raise InvalidInput("a ban lasts more than 0 minutes")
        # ::ffff:192.0.2.7 is banned as 192.0.2.7, the form the FTP server compares peers in
        ip = parse_ip(address)
        if ip is None:
            raise InvalidInput(f"{address!r} is not an IP address")
        return self.bans.ban(str(ip), minutes * 60, reason)

    def lift(self, address: str) -> bool:
        ip = parse_ip(address)
        if ip is None:
            raise ValueError(f"{address!r} is not an IP address")
        return self.bans.lift(str(ip))

    # --- credits and quotas ---------------------------------------------------------------
    async def usage(
        self, name: str, *, credit: str | int | None = None, rescan: bool = False
    ) -> Usage | None:
        account = await self.user(name)
        amount = None
        if credit is not None:
            amount = credit if isinstance(credit, int) else parse_size(credit)
            if amount < 0:
                raise ValueError("a credit cannot be negative")
        home = Path(account.home) if account.home else Path()
        root = home if home.is_absolute() else self.settings.files_root / home

        def work() -> Usage | None:  # the database and a walk of the home: in a thread
            if amount is not None:
                self.policy.set_credit(name, amount)
            if rescan:
                self.policy.set_storage_used(name, *measure_home(root, name))
            return self.policy.usage(name)

        return await asyncio.to_thread(work)

    # --- why ------------------------------------------------------------------------------
    async def why(self, user: str, perm: str, path: str) -> Why:
        wanted = parse_perms(perm)
        if wanted == Perm.NONE:
            raise InvalidInput("name a permission, e.g. RETR or write")
        target = _rule_path(path)
        account = await self.accounts.get(user)
        if account is None:
            raise AccountNotFound(f"no user named {user!r}")
        policy = Policy(await asyncio.to_thread(self.policy.load), base_policy(self.settings))
        account = policy.with_groups(account)
        names = policy.names_for(policy.settings_for(account))
        described = wanted.describe()
        if not names.empty and names.hidden_path(target):
            text = f"denied: {target} matches a hidden name pattern (not reachable)"
            return Why(user, described, target, False, text, None)
        decision = policy.decide(account, wanted, target)
        return Why(user, described, target, decision.allowed, decision.explain(), decision.rule)


_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS |= {"0": False, "false": False, "no": False, "off": False}


def _split(value: str) -> list[str]:
    return [g.strip() for g in value.split(",") if g.strip()]


__all__ = ["AccountError", "InvalidInput", "Manager", "Why"]


def _rule_path(path: str) -> str:
    """A rule's path made absolute and normal; one no FTP path can be (a NUL byte) is refused."""
    try:
        return paths.resolve("/", path)
    except FtpError as exc:
        raise InvalidInput(f"{path!r} is not a usable path: {exc.text}") from None
