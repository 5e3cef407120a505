"""Trace hooks: the session as ``Status:`` / ``Command:`` / ``Response:`` events, PASS censored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["Kind", "Tracer", "censor", "format_event"]

Kind = Literal["Status", "Command", "Response", "Error"]
Tracer = Callable[[Kind, str], None]


def censor(line: str) -> str:
    """Hide the argument of PASS (and of ACCT, which may carry a secret too)."""
    verb = line.split(" ", 1)[0].upper()
    if verb in ("PASS", "ACCT") and " " in line:
        return f"{line.split(' ', 1)[0]} ****"
    return line


def format_event(kind: Kind, text: str) -> str:
    """One log line in the familiar form, e.g. ``Command: PASS ****``."""
    return f"{kind + ':':<10}{text}"
