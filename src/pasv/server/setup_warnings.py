"""What an operator should know about a setup: shown at start and by SITE WARNINGS (pasv doctor)."""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass

from pasv.config import Settings
from pasv.policy.engine import Policy
from pasv.policy.models import Action, Perm, Rule, SubjectKind
from pasv.server import tlssession

_WRITES = Perm.WRITE | Perm.SITE
_EVERYONE = (SubjectKind.ALL, SubjectKind.ANONYMOUS)


@dataclass(frozen=True, slots=True)
class SetupWarning:
    key: str  # plain-login, anonymous-write, root, self-signed, tls-session-lifetime,
    # metrics-exposed, hook-plain-password: stable keys
    text: str


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    return ipaddress.ip_address(host).is_loopback


def _anonymous_write_rule(rules: tuple[Rule, ...]) -> Rule | None:
    for rule in rules:
        if (
            rule.action is Action.ALLOW
            and rule.perms & _WRITES
            and any(subject.kind in _EVERYONE for subject in rule.subjects)
        ):
            return rule
    return None


def setup_warnings(
    settings: Settings, policy: Policy, *, as_root: bool, self_signed: bool
) -> list[SetupWarning]:
    """The warnings for this setup, in a fixed order; none for a careful one."""
    found: list[SetupWarning] = []
    host = settings.server.host
    if not policy.server.require_tls_login and not _loopback(host):
        where = "every interface" if host is None else host
        found.append(
            SetupWarning(
                "plain-login",
                f"plain-text logins are accepted on {where}: passwords cross the network "
                "readable by anyone on the path (set tls.require_login_tls = true, or listen on "
                "127.0.0.1 only).",
            )
        )
    rule = _anonymous_write_rule(policy.data.rules) if settings.anonymous.enabled else None
    if rule is not None:
        found.append(
            SetupWarning(
                "anonymous-write",
                f"anonymous write is on: rule {rule.id} allows {rule.perms.describe()} on "
                f"{rule.path} to anonymous users (anyone may upload there).",
            )
        )
    if as_root:
        found.append(
            SetupWarning(
                "root",
                "pasv serves clients as root (--allow-root): a flaw in pasv would give the "
                "whole host away; let it switch to an unprivileged user (server.user).",
            )
        )
    if settings.tls.enabled and self_signed:
        found.append(
            SetupWarning(
                "self-signed",
                "the self-signed TLS certificate is in use: clients cannot verify this server "
                "and will warn (set tls.certificate and tls.key to a real one).",
            )
        )
    tls = settings.tls
    if tls.enabled and tls.require_session_reuse and not tlssession.settable():
        found.append(
            SetupWarning(
                "tls-session-lifetime",
                f"TLS sessions keep OpenSSL's {tlssession.OPENSSL_DEFAULT}-second lifetime "
                f"(tls.session_lifetime = {tls.session_lifetime} cannot be set with this "
                "Python): a data connection opened later than that after its control "
                "connection's handshake gets 522 under tls.require_session_reuse.",
            )
        )
    metrics_host = settings.metrics.address[0] if settings.metrics.enabled else "127.0.0.1"
    if not _loopback(metrics_host if metrics_host not in ("", "0.0.0.0", "::") else None):
        found.append(
            SetupWarning(
                "metrics-exposed",
                f"metrics are served without authentication on {settings.metrics.listen}: "
                "anyone who reaches it sees user activity counts (keep [metrics] listen on "
                "127.0.0.1, or let only Prometheus reach that port).",
            )
        )
    for index, hook in enumerate(settings.hooks):
        url = urllib.parse.urlsplit(hook.url)
        if url.scheme == "http" and url.password and not _loopback_name(url.hostname):
            found.append(
                SetupWarning(
                    "hook-plain-password",
                    f"hook {hook.name or f'hook-{index + 1}'} sends its URL's password to "
                    f"{url.hostname} over plain http: anyone on the path can read it (use an "
                    "https:// URL).",
                )
            )
    return found


def _loopback_name(host: str | None) -> bool:
    """``_loopback`` for a URL's host, which may be a name (only localhost is taken as one)."""
    try:
        return _loopback(host)
    except ValueError:  # a DNS name: it may resolve anywhere
        return False
