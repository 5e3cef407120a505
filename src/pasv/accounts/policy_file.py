"""The whole policy as one TOML document, for `pasv policy export|import` and version control."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import tomli_w

from pasv.accounts.policy_store import PolicyStore
from pasv.policy.models import Action, IpRule, Perm, Rule, Subject
from pasv.policy.options import Messages, show_option

__all__ = ["dump", "export_policy", "import_policy"]

_TOP = frozenset({"settings", "messages", "groups", "users", "rules", "ip"})


def _shown(options: Mapping[str, Any]) -> dict[str, Any]:
    return {key: show_option(value) for key, value in sorted(options.items())}


def export_policy(store: PolicyStore) -> dict[str, Any]:
    """Everything an operator configured (not passwords, bans or usage, which are state)."""
    data = store.load()
    doc: dict[str, Any] = {"settings": _shown(data.settings)}
    doc["messages"] = data.messages.changed()
    doc["groups"] = {
        name: {"description": group.description, **_shown(group.options)}
        for name, group in sorted(data.groups.items())
    }
    doc["users"] = {
        name: {"groups": list(member.groups), **_shown(member.options)}
        for name, member in sorted(data.members.items())
    }
    doc["rules"] = [
        {
            "action": str(rule.action),
            "to": [str(s) for s in rule.subjects],
            "path": rule.path,
            "perms": rule.perms.describe(),
        }
        for rule in data.rules
    ]
    doc["ip"] = [
        {"action": str(r.action), "network": str(r.network), "scope": r.scope}
        for r in data.ip_rules
    ]
    return doc


def dump(doc: Mapping[str, Any]) -> str:
    header = "# pasv policy: `pasv policy import FILE` loads it back.\n"
    return header + tomli_w.dumps({key: value for key, value in doc.items() if value})


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"[{key}] must be a table")
    return value


def _check(doc: Mapping[str, Any]) -> None:
    unknown = sorted(set(doc) - _TOP)
    if unknown:
        raise ValueError(f"unknown section {unknown[0]!r}; known: {', '.join(sorted(_TOP))}")
    Messages.from_mapping(_table(doc, "messages"))


def import_policy(store: PolicyStore, doc: Mapping[str, Any]) -> list[str]:
    """Replace the stored policy by ``doc`` in one transaction; returns what was done.

    Users must already exist (accounts carry passwords, which a policy file does not).
    """
    _check(doc)
    rules = [_rule(entry, i) for i, entry in enumerate(doc.get("rules", []), 1)]
    ip_rules = [_ip_rule(entry, i) for i, entry in enumerate(doc.get("ip", []), 1)]
    groups = _table(doc, "groups")
    users = _table(doc, "users")
    done: list[str] = []

    def apply() -> None:
        store.clear_policy()
        for key, value in _table(doc, "settings").items():
            store.set_option("", key, value)
        for key, text in _table(doc, "messages").items():
            if isinstance(text, Mapping):  # [messages.zh-Hans]: that language's texts
                for name, translated in text.items():
                    store.set_message(f"{name}.{key}", str(translated))
            else:
                store.set_message(key, str(text))
        for name, entry in groups.items():
            entry = dict(entry)
            store.add_group(name, str(entry.pop("description", "")))
            for key, value in entry.items():
                store.set_option(f"group:{name}", key, value)
        for name, entry in users.items():
            entry = dict(entry)
            store.set_groups(name, [str(g) for g in entry.pop("groups", [])])
            for key, value in entry.items():
                store.set_option(f"user:{name}", key, value)
        for rule in rules:
            store.add_rule(rule)
        for ip_rule in ip_rules:
            store.add_ip_rule(ip_rule)

    store.atomically(apply)
    done.append(
        f"{len(groups)} groups, {len(users)} users, {len(rules)} rules, {len(ip_rules)} IP rules"
    )
    return done


def _rule(entry: Mapping[str, Any], number: int) -> Rule:
    try:
        to = entry.get("to", ["*"])
        subjects = tuple(Subject.parse(s) for s in ([to] if isinstance(to, str) else to))
        perms = entry["perms"]
        perm_text = perms if isinstance(perms, str) else ",".join(perms)
        return Rule(Action(entry["action"]), subjects, str(entry["path"]), Perm.parse(perm_text))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"rules entry {number}: {_why(exc)}") from None


def _ip_rule(entry: Mapping[str, Any], number: int) -> IpRule:
    try:
        network = ipaddress.ip_network(str(entry["network"]), strict=False)
        return IpRule(Action(entry["action"]), network, str(entry.get("scope", "")))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"ip entry {number}: {_why(exc)}") from None


def _why(exc: Exception) -> str:
    return f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
