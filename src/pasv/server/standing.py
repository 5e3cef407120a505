"""Logged-in sessions checked again after an operator's change: an account deleted or disabled,
its password or home changed, its address banned or no longer allowed ends the session (421 with
the reason, a running transfer aborted with it); new permissions or groups apply at once."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pasv.accounts.base import AccountError
from pasv.policy.limits import minutes_left
from pasv.policy.models import User
from pasv.server.language import say
from pasv.server.registry import end_session

if TYPE_CHECKING:
    from pasv.policy.engine import Policy
    from pasv.server.app import FtpServer
    from pasv.server.control import ControlProtocol

log = logging.getLogger("pasv.policy")


async def review(server: FtpServer) -> None:
    """Check every logged-in session of this worker against the policy and accounts just
    loaded; end those the change forbids, give the others their new rights."""
    logged_in = [c for c in server.sessions if c.session.user is not None and not c.closing]
    if not logged_in:
        return
    names = {
        c.session.user.name for c in logged_in if c.session.user and not c.session.user.anonymous
    }
    try:
        stored = await server.accounts.standing(names) if names else {}
    except AccountError as exc:  # the database is away: sessions go on as they were
        log.warning("logged-in sessions not checked again: %s", exc)
        return
    policy = server.gate.policy
    for control in logged_in:
        user = control.session.user
        if user is None or control.closing:  # logged out or closed while the accounts were read
            continue
        reason = _forbidden(server, policy, control, user, stored)
        if reason is not None:
            log.info(
                "[%d] %s session of %s ended: %s",
                control.session.id,
                control.session.peer_ip,
                user.name,
                reason,
            )
            end_session(server, control, reason, "ended")


def _forbidden(
    server: FtpServer,
    policy: Policy,
    control: ControlProtocol,
    user: User,
    stored: dict[str, tuple[User, bool]],
) -> str | None:
    """Why the session may not go on, or None (its user then updated to the stored one)."""
    ip = control.session.peer_ip
    ban = server.gate.bans.get(ip) if server.gate.bans else None
    now = time.time()
    if ban is not None and ban.until > now and not policy.never_banned(ip):
        return policy.messages.say(
            "banned", reason=ban.reason, minutes=minutes_left(ban.until, now)
        )
    if not policy.ip.check(ip, ("",)).allowed:
        return policy.messages.say("server_ip_denied", ip=ip)
    if user.anonymous:
        return (
            None
            if policy.login_ip_allowed(user, ip)
            else say("standing.address", ip=ip, name=user.name)
        )
    found = stored.get(user.name)
    if found is None:
        return say("standing.deleted", name=user.name)
    account, enabled = found
    if not enabled:
        return say("standing.disabled", name=user.name)
    if account.credential != user.credential:
        return say("standing.password", name=user.name)
    if account.home != user.home:
        return say("standing.home", name=user.name)
    now_user = policy.with_groups(account)
    if not policy.login_ip_allowed(now_user, ip):
        return say("standing.address", ip=ip, name=user.name)
    if now_user != user:  # new permissions or groups: the next command is checked with them
        control.session.user = now_user
    return None
