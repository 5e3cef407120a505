"""How many bytes the capture reader may make up: zero-filled gaps, REST offsets, inflated data."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget"]

FLOOR = 256 << 20  # whatever the capture's size: room for the gaps of any real capture
RATIO = 32  # bytes per byte of capture file (a snaplen-cut capture stands for ~20x its size)


@dataclass
class Budget:
    """Bytes beyond those in the capture that rebuilding may hold in memory. A capture names
    offsets freely (a TCP sequence jump of 2 GB, ``REST 900000000000``, a MODE Z bomb); without
    a bound a file of a few hundred bytes would need terabytes. Real captures stay far below it."""

    left: int = FLOOR

    @classmethod
    def for_capture(cls, size: int) -> Budget:
        return cls(FLOOR + RATIO * size)

    def take(self, count: int) -> bool:
        """Spend ``count`` bytes if that many are left; False (and nothing spent) otherwise."""
        if count > self.left:
            return False
        self.left -= max(count, 0)
        return True
