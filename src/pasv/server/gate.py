"""The one place policy is enforced on connections and logins, with counts shared by workers."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from pasv.accounts.policy_store import PolicyStore
from pasv.policy.engine import Policy, SessionCounts
from pasv.policy.limits import ban_seconds, minutes_left, window_slices
from pasv.policy.models import Ban, User
from pasv.policy.options import PolicySettings
from pasv.protocol.errors import Refused
from pasv.server.listcache import ChangeCounter
from pasv.server.shared import SharedState, digest

if TYPE_CHECKING:
    from pasv.server.events import Events
    from pasv.server.session import Session

log = logging.getLogger("pasv.policy")

_ALL = digest("all")
_RELOAD_EVERY = 1.0  # seconds between checks for policy changed by another program


class Gate:
    """Holds the compiled policy (reloaded when the stored one changes), the bans, and the
    session counts; answers connect and login checks in the order DESIGN.md gives."""

    def __init__(
        self,
        store: PolicyStore,
        base: PolicySettings,
        shared: SharedState,
        generation: ChangeCounter,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.base = base
        self.shared = shared
        self.generation = generation  # bumped by any worker that changes policy (a new ban)
        self.policy: Policy
        self.bans: dict[str, Ban]
        self.reload()
        self._seen_generation = generation.value
        self._seen_version = store.accounts.data_version()
        self._next_check = time.monotonic() + _RELOAD_EVERY

    # --- keeping up with changes ----------------------------------------------------------
    def refresh(self, now: float) -> None:
        """Reload when a worker (at once) or another program (within a second) changed policy."""
        generation = self.generation.value
        if generation == self._seen_generation and now < self._next_check:
            return
        self._next_check = now + _RELOAD_EVERY
        version = self.store.accounts.data_version()
        if generation == self._seen_generation and version == self._seen_version:
            return
        self._seen_generation, self._seen_version = generation, version
        self.reload()

    def reload(self) -> None:
        self.policy = Policy(self.store.load(), self.base)
        self.bans = self.store.bans()

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
        if hammering:
            self._ban(ip, self.policy.messages.ban_connections, time.time(), "connections")
        ban = self.bans.get(ip) if self.bans else None
        self.policy.check_connect(ip, clients=clients, ban=ban, now=time.time() if ban else 0.0)

    def disconnect(self) -> None:
        with self.shared.locked():
            self.shared.mine.add(_ALL, -1)

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
            ban = self._ban(ip, self.policy.messages.ban_failures, time.time(), "login_failures")
            raise Refused(
                self.policy.messages.banned.format(
                    reason=ban.reason, minutes=minutes_left(ban.until, time.time())
                )
            )

    def login(self, session: Session, user: User) -> User:
        """Check the login's IP rules and session limits, then count the session."""
        policy = self.policy
        user = policy.with_groups(user)
        if not policy.login_checks:  # no IP rule for users or groups, no session limit
            return user
        keys: list[int] = []
        if policy.counts_logins:
            ip_key, user_key = digest(f"ip:{session.peer_ip}"), digest(f"user:{user.name}")
            group_keys = {g: digest(f"group:{g}") for g in user.groups}
            with self.shared.locked():
                counts = SessionCounts(
                    same_ip=self.shared.sessions(ip_key),
                    same_user=self.shared.sessions(user_key),
                    groups={g: self.shared.sessions(k) for g, k in group_keys.items()},
                )
                policy.check_login(user, session.peer_ip, counts)
                keys = [ip_key, user_key, *group_keys.values()]
                for key in keys:
                    self.shared.mine.add(key, 1)
        else:
            policy.check_login(user, session.peer_ip, SessionCounts())
        session.counted = keys
        return user

    def logout(self, session: Session) -> None:
        if session.counted:
            with self.shared.locked():
                for key in session.counted:
                    self.shared.mine.add(key, -1)
            session.counted = []

    # --- bans -----------------------------------------------------------------------------
    def _ban(self, ip: str, reason: str, now: float, kind: str) -> Ban:
        running = self.bans.get(ip)
        if running is not None and running.until > now:
            return running
        offences = self.store.offences(ip, now) + 1
        seconds = ban_seconds(self.policy.server, offences)
        ban = self.store.ban(ip, seconds, reason, offences)
        self.bans[ip] = ban
        self.generation.bump()
        self._seen_generation = self.generation.value
        log.warning(
            "banned %s for %d minutes (%s; offence %d)", ip, round(seconds / 60), reason, offences
        )
        if self.events is not None:
            self.events.banned(ip, ban, offences, kind)
        return ban
