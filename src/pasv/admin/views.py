"""Stored things as the API shows them (JSON-ready dictionaries; no secret in any)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pasv.config import Settings
from pasv.policy.credits import Usage
from pasv.policy.engine import Policy, PolicyData
from pasv.policy.models import Ban, IpRule, Rule, User
from pasv.policy.options import show_option
from pasv.server.app import base_policy

HIDDEN = "(set; not shown)"
# configuration keys left out of GET /config: paths to key material, secrets
SECRET_CONFIG = (("tls", "key"),)
_PASSWORD_PARAMS = frozenset({"password", "sslpassword", "passfile"})


def _options(options: Any) -> dict[str, Any]:
    return {k: show_option(v) for k, v in sorted(options.items())}


def user_view(user: User, data: PolicyData) -> dict[str, Any]:
    member = data.members.get(user.name)
    return {
        "name": user.name,
        "home": user.home,
        "perms": user.perms.describe(),
        "groups": list(member.groups) if member else [],
        "settings": _options(member.options) if member else {},
    }


def group_views(data: PolicyData) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "description": group.description,
            "members": sorted(m.name for m in data.members.values() if name in m.groups),
            "settings": _options(group.options),
        }
        for name, group in sorted(data.groups.items())
    ]


def rule_view(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "action": str(rule.action),
        "path": rule.path,
        "perms": rule.perms.describe(),
        "to": ",".join(str(s) for s in rule.subjects),
        "text": rule.describe(),
    }


def ip_rule_view(rule: IpRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "action": str(rule.action),
        "network": str(rule.network),
        "scope": rule.scope or "server",
    }


def ban_view(ban: Ban) -> dict[str, Any]:
    return {"address": ban.ip, "until": ban.until, "reason": ban.reason, "offences": ban.offences}


def usage_view(
    name: str, usage: Usage | None, data: PolicyData, settings: Settings, user: User
) -> dict[str, Any]:
    policy = Policy(data, base_policy(settings))
    own = policy.settings_for(policy.with_groups(user))
    return {
        "user": name,
        "credit": usage.credit if usage else None,
        "bytes_used": usage.bytes_used if usage else None,
        "files_used": usage.files_used if usage else None,
        "quota_bytes": own.quota_bytes,
        "quota_files": own.quota_files,
        "ratio": show_option(own.ratio) if own.ratio is not None else None,
    }


def config_view(settings: Settings) -> dict[str, Any]:
    """The running configuration as a read token may see it: no secret, no key path, no
    password in a URL (a read token is for monitoring; a hook's secret would let it forge
    events, a database password would give it every account)."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    for section, key in SECRET_CONFIG:
        if data.get(section, {}).get(key) is not None:
            data[section][key] = HIDDEN
    for host in data.get("hosts", []):
        if host.get("key") is not None:
            host["key"] = HIDDEN
    accounts = data.get("accounts", {})
    if accounts.get("url"):
        accounts["url"] = without_password(accounts["url"])
    for hook in data.get("hooks", []):
        if hook.get("secret"):
            hook["secret"] = HIDDEN
        if hook.get("url"):
            hook["url"] = without_password(hook["url"])
    return data


def without_password(url: str) -> str:
    """``url`` with the password of its user part and of its query replaced by ``****``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    user, at, host = netloc.rpartition("@")
    if at and ":" in user:
        netloc = f"{user.partition(':')[0]}:****@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _PASSWORD_PARAMS for k, _ in pairs):
            pairs = [(k, "****" if k.lower() in _PASSWORD_PARAMS else v) for k, v in pairs]
            query = urlencode(pairs, safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
