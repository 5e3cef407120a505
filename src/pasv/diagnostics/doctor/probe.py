"""What the doctor itself did to the server: its connections and failed logins.

A server that limits or bans addresses counts exactly these; the doctor makes one control
connection (one attempt per address of the host until one answers) and one login, never
retries either, and stops at the first reply that names a ban or a connection limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Probe"]


@dataclass
class Probe:
    """Counters of the doctor's own traffic, reported with its verdict."""

    connections: int = 0  # control-connection attempts (TCP connects)
    failed_logins: int = 0
    stopped_at: str | None = None  # the ban or limit kind that ended the probe

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "failed_logins": self.failed_logins,
            "stopped_at": self.stopped_at,
        }
