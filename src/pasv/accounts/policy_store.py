"""Policy in the account database: groups, memberships, settings, rules, IP rules, bans, usage."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pasv.accounts.base import AccountNotFound
from pasv.accounts.sqlbase import AccountDatabase, DuplicateKey, Tx
from pasv.policy.credits import Usage
from pasv.policy.engine import PolicyData
from pasv.policy.models import Action, Ban, Group, IpRule, Member, Perm, Rule, Subject
from pasv.policy.options import Messages, parse_option, show_option

__all__ = ["MESSAGES_SCOPE", "PolicyStore", "scope_of"]

MESSAGES_SCOPE = "messages"
# a ban older than this is forgotten: the next one counts as a first offence again
_OFFENCE_MEMORY = 7 * 24 * 3600.0


def scope_of(kind: str, name: str = "") -> str:
    """``""`` for global settings, ``"group:NAME"`` or ``"user:NAME"``."""
    return f"{kind}:{name}" if kind in ("group", "user") else ""


class PolicyStore:
    """Synchronous policy storage on the account store's database, SQLite or PostgreSQL (call
    it from a thread on the event loop, or directly from the CLI). The SQL is written once for
    both engines: ``?`` placeholders, ``ON CONFLICT`` upserts, ``RETURNING id``, and the column
    ``"user"`` quoted (a reserved word in PostgreSQL)."""

    def __init__(self, accounts: AccountDatabase) -> None:
        self.accounts = accounts

    # --- reading everything at once -------------------------------------------------------
    def load(self) -> PolicyData:
        read = self.accounts.read
        options: dict[str, dict[str, Any]] = {}
        for scope, key, value in read("SELECT scope, key, value FROM options"):
            options.setdefault(scope, {})[key] = json.loads(value)
        texts = options.pop(MESSAGES_SCOPE, {})
        settings = {scope: _parsed(values) for scope, values in options.items()}
        groups = {
            name: Group(name, description, settings.get(f"group:{name}", {}))
            for name, description in read("SELECT name, description FROM groups ORDER BY name")
        }
        member_groups: dict[str, list[str]] = {}
        for user, grp in read('SELECT "user", grp FROM memberships ORDER BY "user", position'):
            member_groups.setdefault(user, []).append(grp)
        users = set(member_groups) | {s[5:] for s in settings if s.startswith("user:")}
        members = {
            name: Member(name, tuple(member_groups.get(name, ())), settings.get(f"user:{name}", {}))
            for name in users
        }
        return PolicyData(
            settings.get("", {}),
            Messages.from_mapping(texts),
            groups,
            members,
            self.rules(),
            self.ip_rules(),
        )

    def atomically(self, work: Callable[[], None]) -> None:
        """Run several changes as one transaction: all of them happen, or none."""
        self.accounts.run(lambda _: work())

    def clear_policy(self) -> None:
        """Forget groups, memberships, settings, texts and rules (not users, bans or usage)."""

        def work(conn: Tx) -> None:
            for table in ("groups", "memberships", "options", "rules", "ip_rules"):
                conn.execute(f"DELETE FROM {table}")

        self.accounts.run(work)

    # --- groups and memberships -----------------------------------------------------------
    def add_group(self, name: str, description: str = "") -> None:
        if not name or "/" in name or ":" in name or name != name.strip():
            raise ValueError("a group name must be non-empty, without '/', ':' or outer spaces")
        try:
            self.accounts.run(
                lambda c: c.execute("INSERT INTO groups VALUES (?, ?)", (name, description))
            )
        except DuplicateKey:
            raise ValueError(f"group {name!r} already exists") from None

    def delete_group(self, name: str) -> bool:
        def work(conn: Tx) -> bool:
            gone = conn.execute("DELETE FROM groups WHERE name = ?", (name,)).rowcount
            conn.execute("DELETE FROM memberships WHERE grp = ?", (name,))
            conn.execute("DELETE FROM options WHERE scope = ?", (f"group:{name}",))
            return bool(gone)

        return self.accounts.run(work)

    def groups(self) -> list[str]:
        return [row[0] for row in self.accounts.read("SELECT name FROM groups ORDER BY name")]

    def members_of(self, group: str) -> list[str]:
        rows = self.accounts.read(
            'SELECT "user" FROM memberships WHERE grp = ? ORDER BY "user"', (group,)
        )
        return [row[0] for row in rows]

    def set_groups(self, user: str, groups: Iterable[str]) -> None:
        """The user's groups, in order of precedence (the first group's settings win)."""
        wanted = list(dict.fromkeys(groups))
        if not self.accounts.read("SELECT 1 FROM users WHERE name = ?", (user,)):
            raise AccountNotFound(f"no user named {user!r}")
        known = set(self.groups())
        missing = [g for g in wanted if g not in known]
        if missing:
            raise ValueError(f"no group named {missing[0]!r}; create it with: pasv group add")

        def work(conn: Tx) -> None:
            conn.execute('DELETE FROM memberships WHERE "user" = ?', (user,))
            conn.executemany(
                "INSERT INTO memberships VALUES (?, ?, ?)",
                [(user, grp, pos) for pos, grp in enumerate(wanted)],
            )

        self.accounts.run(work)

    def groups_of(self, user: str) -> list[str]:
        rows = self.accounts.read(
            'SELECT grp FROM memberships WHERE "user" = ? ORDER BY position', (user,)
        )
        return [row[0] for row in rows]

    # --- settings and texts ---------------------------------------------------------------
    def set_option(self, scope: str, key: str, value: object) -> Any:
        """Validate and store one setting; returns the parsed value."""
        parsed = parse_option(key, value)
        self._check_scope(scope)
        text = json.dumps(show_option(parsed))
        self.accounts.run(
            lambda c: c.execute(
                "INSERT INTO options VALUES (?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                (scope, key, text),
            )
        )
        return parsed

    def unset_option(self, scope: str, key: str) -> bool:
        return bool(
            self.accounts.run(
                lambda c: (
                    c.execute(
                        "DELETE FROM options WHERE scope = ? AND key = ?", (scope, key)
                    ).rowcount
                )
            )
        )

    def options(self, scope: str) -> dict[str, Any]:
        rows = self.accounts.read("SELECT key, value FROM options WHERE scope = ?", (scope,))
        return _parsed({key: json.loads(value) for key, value in rows})

    def set_message(self, key: str, text: str) -> None:
        Messages.from_mapping({key: text})  # validates the name
        self.accounts.run(
            lambda c: c.execute(
                "INSERT INTO options VALUES (?, ?, ?)"
                " ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value",
                (MESSAGES_SCOPE, key, json.dumps(text)),
            )
        )

    def _check_scope(self, scope: str) -> None:
        kind, _, name = scope.partition(":")
        if kind == "group" and name not in self.groups():
            raise ValueError(f"no group named {name!r}; create it with: pasv group add")
        if kind == "user" and not self.accounts.read("SELECT 1 FROM users WHERE name = ?", (name,)):
            raise AccountNotFound(f"no user named {name!r}")

    # --- authorization rules --------------------------------------------------------------
    def add_rule(self, rule: Rule) -> int:
        subjects = ",".join(str(s) for s in rule.subjects)
        return int(
            self.accounts.run(
                lambda c: c.execute(
                    "INSERT INTO rules (action, subjects, path, perms) VALUES (?, ?, ?, ?)"
                    " RETURNING id",
                    (str(rule.action), subjects, rule.path, rule.perms.describe()),
                ).fetchone()[0]
            )
            or 0
        )

    def delete_rule(self, rule_id: int) -> bool:
        return bool(
            self.accounts.run(
                lambda c: c.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount
            )
        )

    def rules(self) -> tuple[Rule, ...]:
        rows = self.accounts.read("SELECT id, action, subjects, path, perms FROM rules ORDER BY id")
        return tuple(
            Rule(
                Action(action),
                tuple(Subject.parse(s) for s in subjects.split(",")),
                path,
                Perm.parse(perms),
                id=rule_id,
            )
            for rule_id, action, subjects, path, perms in rows
        )

    # --- IP rules -------------------------------------------------------------------------
    def add_ip_rule(self, rule: IpRule) -> int:
        if rule.scope:
            self._check_scope(rule.scope)
        return int(
            self.accounts.run(
                lambda c: c.execute(
                    "INSERT INTO ip_rules (action, network, scope) VALUES (?, ?, ?) RETURNING id",
                    (str(rule.action), str(rule.network), rule.scope),
                ).fetchone()[0]
            )
            or 0
        )

    def delete_ip_rule(self, rule_id: int) -> bool:
        return bool(
            self.accounts.run(
                lambda c: c.execute("DELETE FROM ip_rules WHERE id = ?", (rule_id,)).rowcount
            )
        )

    def ip_rules(self) -> tuple[IpRule, ...]:
        rows = self.accounts.read("SELECT id, action, network, scope FROM ip_rules ORDER BY id")
        return tuple(
            IpRule(Action(action), ipaddress.ip_network(network), scope, id=rule_id)
            for rule_id, action, network, scope in rows
        )

    # --- bans -----------------------------------------------------------------------------
    def bans(self, now: float | None = None) -> dict[str, Ban]:
        """Bans still running."""
        now = time.time() if now is None else now
        rows = self.accounts.read(
            "SELECT ip, until, reason, offences FROM bans WHERE until > ?", (now,)
        )
        return {ip: Ban(ip, until, reason, offences) for ip, until, reason, offences in rows}

    def offences(self, ip: str, now: float | None = None) -> int:
        """Earlier bans of this address that still count (for the next ban's length)."""
        now = time.time() if now is None else now
        rows = self.accounts.read(
            "SELECT offences FROM bans WHERE ip = ? AND until > ?", (ip, now - _OFFENCE_MEMORY)
        )
        return int(rows[0][0]) if rows else 0

    def ban(self, ip: str, seconds: float, reason: str, offences: int = 1) -> Ban:
        ip = str(ipaddress.ip_address(ip))
        now = time.time()
        ban = Ban(ip, now + seconds, reason, offences)
        self.accounts.run(
            lambda c: c.execute(
                "INSERT INTO bans VALUES (?, ?, ?, ?, ?) ON CONFLICT (ip) DO UPDATE SET"
                " until = excluded.until, reason = excluded.reason,"
                " offences = excluded.offences, created = excluded.created",
                (ip, ban.until, reason, offences, now),
            )
        )
        return ban

    def lift(self, ip: str) -> bool:
        """End a ban (and forget the address's earlier offences)."""
        return bool(
            self.accounts.run(lambda c: c.execute("DELETE FROM bans WHERE ip = ?", (ip,)).rowcount)
        )

    # --- credits and quota usage ----------------------------------------------------------
    def usage(self, user: str) -> Usage | None:
        rows = self.accounts.read(
            'SELECT credit, bytes_used, files_used FROM usage WHERE "user" = ?', (user,)
        )
        return Usage(*rows[0]) if rows else None

    def start_usage(self, user: str, credit: int, bytes_used: int, files_used: int) -> Usage:
        """Create the usage row once (the first login with a ratio or quota); returns the row."""
        self.accounts.run(
            lambda c: c.execute(
                "INSERT INTO usage VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (user, credit, bytes_used, files_used),
            )
        )
        found = self.usage(user)
        assert found is not None
        return found

    def reserve_credit(self, user: str, amount: int) -> bool:
        """Take ``amount`` of credit if there is that much, in one statement."""
        return bool(
            self.accounts.run(
                lambda c: (
                    c.execute(
                        'UPDATE usage SET credit = credit - ? WHERE "user" = ? AND credit >= ?',
                        (amount, user, amount),
                    ).rowcount
                )
            )
        )

    def change_usage(
        self, user: str, *, credit: int = 0, bytes_used: int = 0, files: int = 0
    ) -> None:
        """Add to (or with negative numbers, take from) a user's credit and storage used."""
        self.accounts.run(
            lambda c: c.execute(
                "UPDATE usage SET credit = credit + ?,"
                " bytes_used = CASE WHEN bytes_used + ? < 0 THEN 0 ELSE bytes_used + ? END,"
                " files_used = CASE WHEN files_used + ? < 0 THEN 0 ELSE files_used + ? END"
                ' WHERE "user" = ?',
                (credit, bytes_used, bytes_used, files, files, user),
            )
        )

    def set_storage_used(self, user: str, bytes_used: int, files: int) -> None:
        """Record what a user's home holds (measured again), keeping its credit."""
        self.accounts.run(
            lambda c: c.execute(
                'INSERT INTO usage ("user", bytes_used, files_used) VALUES (?, ?, ?)'
                ' ON CONFLICT ("user") DO UPDATE SET bytes_used = excluded.bytes_used,'
                " files_used = excluded.files_used",
                (user, bytes_used, files),
            )
        )

    def set_credit(self, user: str, credit: int) -> None:
        self.accounts.run(
            lambda c: c.execute(
                'INSERT INTO usage ("user", credit) VALUES (?, ?)'
                ' ON CONFLICT ("user") DO UPDATE SET credit = excluded.credit',
                (user, credit),
            )
        )


def _parsed(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: parse_option(key, value) for key, value in values.items()}
