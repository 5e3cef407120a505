"""IP rules: the longest matching prefix decides, deny wins a tie; an allow list admits only it."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pasv.policy.models import Action, IpNetwork, IpRule

__all__ = ["IpDecision", "IpRules", "in_networks", "parse_ip", "unmapped_network"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=4096)
def parse_ip(ip: str) -> IpAddress | None:
    """The address in ``ip`` (zone suffix ignored, IPv4-mapped IPv6 as IPv4); None if unparsable.

    Memoised: the same addresses connect and log in again and again."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0].strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def unmapped_network(network: IpNetwork) -> IpNetwork:
    """An IPv4-mapped network (``::ffff:10.0.0.0/120``) as the IPv4 one it maps (``10.0.0.0/24``),
    the form ``parse_ip`` gives the addresses compared with it; any other as it is."""
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is None or network.prefixlen < 96:
        return network
    return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")


@dataclass(frozen=True, slots=True)
class IpDecision:
    """Whether an address may go on, and the IP rule that said so (None: no rule matched)."""

    allowed: bool
    rule: IpRule | None
    reason: str = ""

    def explain(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        if self.rule is not None:
            return f"{verdict} by {self.rule.describe()}"
        return f"{verdict}: {self.reason}" if self.reason else verdict


_NO_RULES = IpDecision(True, None, "no IP rule applies")


class IpRules:
    """IP rules grouped by scope (``""`` server-wide, ``"user:NAME"``, ``"group:NAME"``)."""

    __slots__ = ("_by_scope", "_memo", "rules")

    MEMO = 4096  # decisions remembered per (address, scopes); the rules never change

    def __init__(self, rules: Sequence[IpRule]) -> None:
        self.rules = tuple(rules)
        self._memo: dict[tuple[str, tuple[str, ...]], IpDecision] = {}
        self._by_scope: dict[str, list[IpRule]] = {}
        for rule in self.rules:
            self._by_scope.setdefault(rule.scope, []).append(rule)

    def has_scope(self, scope: str) -> bool:
        return scope in self._by_scope

    def check(self, ip: str, scopes: Iterable[str]) -> IpDecision:
        """May ``ip`` go on under the rules of ``scopes``?"""
        if not self._by_scope:
            return _NO_RULES
        key = (ip, tuple(scopes))
        found = self._memo.get(key)
        if found is None:
            rules = [rule for scope in key[1] for rule in self._by_scope.get(scope, ())]
            if len(self._memo) >= self.MEMO:
                self._memo.clear()
            found = self._memo[key] = self._decide(ip, rules) if rules else _NO_RULES
        return found

    def _decide(self, ip: str, rules: list[IpRule]) -> IpDecision:
        address = parse_ip(ip)
        if address is None:
            return IpDecision(False, None, f"{ip!r} is not an IP address")
        matching = [rule for rule in rules if address in rule.network]
        if matching:
            # longest prefix; on a tie the first deny (max keeps the first of equal keys)
            best = max(matching, key=lambda r: (r.network.prefixlen, r.action is Action.DENY))
            return IpDecision(best.action is Action.ALLOW, best)
        if any(rule.action is Action.ALLOW for rule in rules):
            return IpDecision(False, None, f"{address} is in no allowed network (an allow list)")
        return IpDecision(True, None, f"no IP rule matches {address}")


def in_networks(ip: str, networks: Iterable[IpNetwork]) -> bool:
    """True when ``ip`` lies in one of ``networks`` (False for an unparsable address)."""
    address = parse_ip(ip)
    return address is not None and any(address in network for network in networks)
