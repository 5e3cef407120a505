"""The one place policy is enforced on connections and logins, with counts shared by workers."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pasv.accounts.base import AccountError
from pasv.accounts.policy_store import PolicyStore
from pasv.policy.engine import Policy, SessionCounts
from pasv.policy.limits import ban_seconds, minutes_left, window_slices
from pasv.policy.models import Ban, User
from pasv.policy.options import PolicySettings
from pasv.protocol.errors import Refused
from pasv.server.listcache import ChangeCounter
from pasv.server.shared import SharedState, digest

if TYPE_CHECKING:
    from pasv.accounts.cluster_store import ClusterCounts
    from pasv.server.cluster import Cluster
    from pasv.server.events import Events
    from pasv.server.session import Session

log = logging.getLogger("pasv.policy")

_ALL = digest("all")
_IN_CLUSTER = digest("cluster session")  # marks a session the cluster's table holds a row of
_RELOAD_EVERY = 1.0  # seconds between checks for policy changed by another program
_PLANS = 4096  # login plans remembered per policy


@dataclass(frozen=True, slots=True)
class _LoginPlan:
    """What a login checks: the IP rules' verdict, and the session counts (per address, per
    user, per group: ``keys``) with their ``limits`` (0 = none)."""

    ip_allowed: bool
    keys: tuple[int, ...]
    limits: tuple[int, ...]
    groups: tuple[str, ...]  # the groups whose counts follow the first two keys
    lowest: int  # the smallest limit of ``limits``; none at all: never reached


class Gate:
    """Holds the compiled policy (reloaded when the stored one changes), the bans, and the
    session counts; answers connect and login checks in the order DESIGN.md gives."""

    def __init__(
        self,
        store: PolicyStore,
        base: PolicySettings,
        shared: SharedState,
        generation: ChangeCounter,
        cluster: Cluster | None = None,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.cluster = cluster  # several nodes on PostgreSQL: counts and admissions there
        self.events = events
        self.base = base
        self.shared = shared
        self.generation = generation  # bumped by any worker that changes policy (a new ban)
        self.policy: Policy
        self.bans: dict[str, Ban]
        self._plans: dict[tuple[str, bool, tuple[str, ...], str], _LoginPlan] = {}
        self._plans_of: Policy | None = None
        self.reload()
        self._seen_generation = generation.value
        self._seen_version = store.accounts.data_version()
        self._next_check = time.monotonic() + _RELOAD_EVERY

    # --- keeping up with changes ----------------------------------------------------------
    def refresh(self, now: float) -> bool:
        """Reload when a worker (at once) or another program (within a second) changed policy;
        True when it reloaded (the logged-in sessions are then checked again: standing.py)."""
        generation = self.generation.value
        if generation == self._seen_generation and now < self._next_check:
            return False
        self._next_check = now + _RELOAD_EVERY
        if self.store.accounts.pushes_changes:  # notifications reload (reload_async): no polling
            version = self._seen_version
        else:
            version = self.store.accounts.data_version()
        if generation == self._seen_generation and version == self._seen_version:
            return False
        self._seen_generation, self._seen_version = generation, version
        try:
            self.reload()
        except AccountError as exc:  # the database is away: the policy in hand stays
            log.warning("policy not reloaded: %s", exc)
            return False
        return True

    def reload(self) -> None:
        self.policy = Policy(self.store.load(), self.base)
        self.bans = self.store.bans()

    async def reload_async(self, origin: str = "") -> bool:
        """Reload from a thread (a change announced by the database); keep the policy in hand
        when the database cannot be read."""

        def load() -> tuple[Policy, dict[str, Ban]]:
            return Policy(self.store.load(), self.base), self.store.bans()

        try:
            self.policy, self.bans = await asyncio.to_thread(load)
        except AccountError as exc:
            log.warning("policy not reloaded: %s", exc)
            return False
        log.info("policy reloaded (changed by %s)", origin or "another program")
        return True

    # --- connect --------------------------------------------------------------------------
    def connect(self, ip: str) -> None:
        """Count the connection, then check it; a refusal (421) is raised after counting, so
        ``disconnect`` must always follow."""
        now_mono = time.monotonic()
        self.refresh(now_mono)
        shared = self.shared
        with shared.locked():
            shared.mine.add(_ALL, 1)
            clients = shared.sessions(_ALL)
            hammering = self._count_connect(ip, now_mono)
        if self.cluster is not None:  # the other nodes' connections, as of their last beat
            clients += self.cluster.others
        if hammering:
            self._ban(ip, self.policy.messages.say("ban_connections"), time.time(), "connections")
        ban = self.bans.get(ip) if self.bans else None
        self.policy.check_connect(ip, clients=clients, ban=ban, now=time.time() if ban else 0.0)

    def disconnect(self, session: Session) -> None:
        """The connection ended: its login (``logout``) and the connection stop counting."""
        self._release_in_cluster(session)
        with self.shared.locked():
            self.shared.count((*session.counted, _ALL), -1)
        session.counted = ()

    def _count_connect(self, ip: str, now: float) -> bool:
        settings = self.policy.server
        if not settings.hammer_connections or self.policy.never_banned(ip):
            return False
        return self._window(f"c:{ip}", settings.hammer_connect_window, now) > (
            settings.hammer_connections
        )

    def _window(self, name: str, window: float, now: float) -> int:
        """Add one event to a counting window shared by all workers; return the events in it."""
        current, slices, forget_at = window_slices(now, window)
        common = self.shared.common
        total = common.add(digest(f"{name}:{current}"), 1, forget_at, now)
        for index in slices[1:]:
            total += common.get(digest(f"{name}:{index}"), now)
        return total

    # --- login ----------------------------------------------------------------------------
    def login_failed(self, ip: str) -> None:
        """Count a failed login; too many within the window bans the address."""
        settings = self.policy.server
        if not settings.hammer_failures or self.policy.never_banned(ip):
            return
        now = time.monotonic()
        with self.shared.locked():
            count = self._window(f"f:{ip}", settings.hammer_failure_window, now)
        if count >= settings.hammer_failures:
            ban = self._ban(
                ip, self.policy.messages.say("ban_failures"), time.time(), "login_failures"
            )
            raise Refused(
                self.policy.messages.say(
                    "banned", reason=ban.reason, minutes=minutes_left(ban.until, time.time())
                )
            )

    def login(self, session: Session, user: User) -> User:
        """Check the login's IP rules and session limits, then count the session."""
        policy = self.policy
        user = policy.with_groups(user)
        if not policy.login_checks:  # no IP rule for users or groups, no session limit
            return user
        plan = self._login_plan(policy, user, session.peer_ip)
        if not plan.ip_allowed:
            policy.check_login(user, session.peer_ip, SessionCounts())  # raises with the reason
        keys = plan.keys
        if keys:
            shared = self.shared
            with shared.locked():
                # every session counted under a key is one of the connections (each counted at
                # connect, this one too): while there are no more of them than the lowest limit,
                # no count can pass its limit, and the counts need not be read
                if shared.sessions(_ALL) > plan.lowest:
                    counts = shared.sessions_of(keys)
                    for n, limit in zip(counts, plan.limits, strict=True):
                        if limit and n >= limit:  # a limit reached: the policy says which, why
                            groups = dict(zip(plan.groups, counts[2:], strict=True))
                            policy.check_login(
                                user, session.peer_ip, SessionCounts(counts[0], counts[1], groups)
                            )
                            break
                shared.count(keys, 1)
        session.counted = keys
        return user

    def _login_plan(self, policy: Policy, user: User, ip: str) -> _LoginPlan:
        """What a login of ``user`` from ``ip`` checks and counts (memoised per policy: the
        same users come back from the same addresses)."""
        if self._plans_of is not policy:
            self._plans, self._plans_of = {}, policy
        memo = (user.name, user.anonymous, user.groups, ip)
        plan = self._plans.get(memo)
        if plan is None:
            keys: tuple[int, ...] = ()
            limits: tuple[int, ...] = ()
            groups: tuple[str, ...] = ()
            if policy.counts_logins:
                per_ip, per_user, *per_group = policy.login_limits(user)
                distinct = dict(zip(user.groups, per_group, strict=True))
                groups = tuple(distinct)
                keys = (
                    digest(f"ip:{ip}"),
                    digest(f"user:{user.name}"),
                    *(digest(f"group:{g}") for g in groups),
                )
                limits = (per_ip, per_user, *distinct.values())
            if len(self._plans) >= _PLANS:
                self._plans.clear()
            reached = [limit for limit in limits if limit]
            plan = self._plans[memo] = _LoginPlan(
                policy.login_ip_allowed(user, ip),
                keys,
                limits,
                groups,
                min(reached) if reached else sys.maxsize,
            )
        return plan

    async def admit(self, session: Session, user: User) -> User:
        """``login`` for a cluster: the limits are counted over every live node's sessions, in
        one transaction (so two nodes never both admit past a limit), and the session is
        registered in the cluster's session table; 421 while the database is away."""
        cluster = self.cluster
        if cluster is None:
            return self.login(session, user)
        policy = self.policy
        user = policy.with_groups(user)
        max_clients = policy.server.max_clients

        def check(counts: ClusterCounts) -> None:
            if counts.total >= max_clients:
                raise Refused(policy.messages.say("too_many_users", limit=max_clients))
            policy.check_login(
                user,
                session.peer_ip,
                SessionCounts(
                    same_ip=counts.same_ip, same_user=counts.same_user, groups=counts.groups
                ),
            )

        await cluster.admit(session, user.name, user.groups, check)
        session.counted = (_IN_CLUSTER,)
        with self.shared.locked():
            self.shared.mine.add(_IN_CLUSTER, 1)
        return user

    def logout(self, session: Session) -> None:
        self._release_in_cluster(session)
        if session.counted:
            with self.shared.locked():
                self.shared.count(session.counted, -1)
            session.counted = ()

    def _release_in_cluster(self, session: Session) -> None:
        if session.counted and self.cluster is not None and _IN_CLUSTER in session.counted:
            self.cluster.release(session.id)

    # --- bans -----------------------------------------------------------------------------
    def _ban(self, ip: str, reason: str, now: float, kind: str) -> Ban:
        running = self.bans.get(ip)
        if running is not None and running.until > now:
            return running
        try:
            offences = self.store.offences(ip, now) + 1
            seconds = ban_seconds(self.policy.server, offences)
            ban = self.store.ban(ip, seconds, reason, offences)
        except AccountError as exc:  # the database is away: this node enforces the ban alone
            seconds = ban_seconds(self.policy.server, 1)
            ban = Ban(ip, now + seconds, reason, 1)
            log.warning("ban of %s kept on this node only: %s", ip, exc)
            offences = 1
        self.bans[ip] = ban
        self.generation.bump()
        self._seen_generation = self.generation.value
        log.warning(
            "banned %s for %d minutes (%s; offence %d)", ip, round(seconds / 60), reason, offences
        )
        if self.events is not None:
            self.events.banned(ip, ban, offences, kind)
        return ban
