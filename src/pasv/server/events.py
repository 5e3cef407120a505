"""The points where the server says what happened: metrics count them, hooks receive them.

Handlers call these few functions; each counts its metric and, only when a hook asked for that
kind of event, builds the event and queues it (nothing more happens on the session's path).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pasv.protocol.errors import DataConnectionFailed, DataTlsFailed, FtpError, QuotaExceeded
from pasv.server.hooks import Hooks
from pasv.server.metrics import Metrics

if TYPE_CHECKING:
    from pasv.policy.models import Ban
    from pasv.server.session import Session


class Events:
    """One per server process: its metrics and its hooks."""

    def __init__(self, metrics: Metrics, hooks: Hooks) -> None:
        self.metrics = metrics
        self.hooks = hooks
        self.wanted = hooks.wanted

    def _send(self, kind: str, fields: dict[str, Any]) -> None:
        event = {
            "event": kind,
            "id": uuid.uuid4().hex,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **fields,
        }
        self.hooks.offer(event)

    # --- transfers (after their 226; complete transfers only) ------------------------------
    def transferred(self, s: Session, direction: str, path: str, size: int, seconds: float) -> None:
        kind = "upload_complete" if direction == "i" else "download_complete"
        if kind in self.wanted:
            self._send(kind, {**_who(s), "path": path, "bytes": size, "seconds": round(seconds, 6)})

    # --- logins ---------------------------------------------------------------------------
    def logged_in(self) -> None:
        self.metrics.logins.inc()

    def login_failed(self, s: Session, name: str, reason: str) -> None:
        self.metrics.login_failures.labels(reason).inc()
        if "login_failed" in self.wanted:
            self._send(
                "login_failed",
                {
                    "user": name,
                    "ip": s.peer_ip,
                    "session": s.id,
                    "reason": reason,
                    "failures": s.failures,
                },
            )

    # --- refusals, bans, quotas, deletes --------------------------------------------------
    def refused(self, s: Session | None, exc: FtpError, path: str = "") -> None:
        """A refusal became a reply (counted by code and class); ``path`` when a transfer
        was stopped."""
        self.metrics.refused(int(exc.code), type(exc).__name__)
        if isinstance(exc, DataConnectionFailed | DataTlsFailed):
            self.data_failed(data_failure_kind(exc))
        elif isinstance(exc, QuotaExceeded) and s is not None:
            self.metrics.quota.inc()
            if "quota_reached" in self.wanted:
                where = {"path": path} if path else {}
                self._send("quota_reached", {**_who(s), **where, "message": exc.text})

    def data_failed(self, kind: str) -> None:
        self.metrics.data_failures.labels(kind).inc()

    def foreign_data_peer(self) -> None:
        """A connection to a passive port from another address than the client's, refused."""
        self.data_failed("foreign_peer")

    def banned(self, ip: str, ban: Ban, offences: int, kind: str) -> None:
        """A ban the server issued; ``kind``: connections or login_failures."""
        self.metrics.bans.labels(kind).inc()
        if "ban" in self.wanted:
            minutes = max(0, round((ban.until - time.time()) / 60))
            self._send(
                "ban",
                {
                    "ip": ip,
                    "kind": kind,
                    "reason": ban.reason,
                    "minutes": minutes,
                    "offences": offences,
                    "until": ban.until,
                },
            )

    def deleted(self, s: Session, path: str) -> None:
        self.metrics.deletes.inc()
        if "file_deleted" in self.wanted:
            self._send("file_deleted", {**_who(s), "path": path})


def _who(s: Session) -> dict[str, Any]:
    return {"user": s.who, "ip": s.peer_ip, "session": s.id}


def data_failure_kind(exc: FtpError) -> str:
    """A bounded label for why a data connection failed, from the refusal that said so."""
    if isinstance(exc, DataConnectionFailed):
        return exc.kind
    return "tls"
