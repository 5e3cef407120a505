"""The policy the bench loads into `pasv-policy`: 50 rules, groups, IP rules and counted limits."""

from __future__ import annotations

from pathlib import Path

import tomli_w

RULES = 50


def policy_document(user: str) -> dict[str, object]:
    """Rules on paths the bench never touches, plus some on the root: every decision walks a
    realistic rule book, and the session limits are counted (high enough never to refuse)."""
    rules: list[dict[str, object]] = []
    for i in range(RULES - 2):
        action = "deny" if i % 3 == 0 else "allow"
        to = ["*"] if i % 2 else ["@staff", f"someone{i}"]
        rules.append({"action": action, "to": to, "path": f"/area{i}/*/sub", "perms": "write"})
    rules.append({"action": "allow", "to": ["@staff"], "path": "/", "perms": "read"})
    rules.append({"action": "deny", "to": ["*"], "path": "/private", "perms": "read"})
    return {
        "settings": {"max_sessions_per_ip": 100000, "forbidden_names": ["*.exe", "*.php"]},
        "groups": {"staff": {"max_users": 100000, "description": "bench group"}},
        "users": {user: {"groups": ["staff"], "max_sessions_per_user": 100000}},
        "rules": rules,
        "ip": [
            {"action": "deny", "network": "192.0.2.0/24", "scope": ""},
            {"action": "allow", "network": "127.0.0.0/8", "scope": "group:staff"},
        ],
    }


def write_policy(path: Path, user: str) -> Path:
    path.write_text(tomli_w.dumps(policy_document(user)), encoding="utf-8")
    return path
