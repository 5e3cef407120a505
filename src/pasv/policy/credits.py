"""Upload/download credit arithmetic and quota room: pure numbers, no storage."""

from __future__ import annotations

from dataclasses import dataclass

from pasv.policy.options import PolicySettings, Ratio


def earned(ratio: Ratio, uploaded: int) -> int:
    """Credit earned by ``uploaded`` bytes: with 1:3, every uploaded byte earns three."""
    return uploaded * ratio.download // ratio.upload


def credit_applies(settings: PolicySettings) -> bool:
    """Whether downloads are paid for with credit for this user."""
    return settings.ratio is not None and not settings.credit_exempt


@dataclass(frozen=True, slots=True)
class Usage:
    """What a user has stored and may still download."""

    credit: int = 0
    bytes_used: int = 0
    files_used: int = 0


def quota_room(settings: PolicySettings, usage: Usage, replacing: int = 0) -> int | None:
    """Bytes an upload may still write, or None without a byte quota.

    ``replacing`` is the size of the file an upload overwrites: those bytes are freed.
    """
    if not settings.quota_bytes:
        return None
    return max(0, settings.quota_bytes - usage.bytes_used + replacing)


def files_full(settings: PolicySettings, usage: Usage) -> bool:
    """A new file would exceed the file-count quota."""
    return bool(settings.quota_files) and usage.files_used >= settings.quota_files
