"""TCP stream reassembly: segments in any order, retransmitted or overlapping, into byte streams."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from pasv.diagnostics.pcap.budget import Budget
from pasv.diagnostics.pcap.packets import FIN, RST, SYN, Segment

__all__ = ["Connection", "Stream", "reassemble"]

_ACK = 0x10
_HALF = 1 << 31
_FULL = 1 << 32

Endpoint = tuple[str, int]


def _signed(diff: int) -> int:
    return (diff + _HALF) % _FULL - _HALF


@dataclass(frozen=True, slots=True)
class Stream:
    """One direction of a connection: its bytes, in order, and what the capture lacks."""

    data: bytes
    missing: tuple[tuple[int, int], ...]  # [start, end) byte ranges never captured (zero-filled)
    closed: bool  # a FIN was seen
    reset: bool
    starts: tuple[int, ...]  # offsets where a segment added new bytes ...
    times: tuple[float, ...]  # ... and when it was captured

    @property
    def complete(self) -> bool:
        """Every byte up to a FIN was captured."""
        return self.closed and not self.missing

    def time_at(self, offset: int) -> float:
        """When the byte at ``offset`` was captured (first arrival)."""
        if not self.times:
            return 0.0
        return self.times[max(bisect.bisect_right(self.starts, offset) - 1, 0)]


@dataclass
class _Half:
    isn: int | None = None
    last_seq: int | None = None
    last_abs: int = 0
    pieces: list[tuple[int, float, bytes]] = field(default_factory=list)
    fin_abs: int | None = None
    reset: bool = False

    def _absolute(self, seq: int) -> int:
        if self.last_seq is None:
            self.last_seq, self.last_abs = seq, 0
        self.last_abs += _signed(seq - self.last_seq)
        self.last_seq = seq
        return self.last_abs

    def add(self, seg: Segment) -> None:
        if seg.flags & SYN:
            self.isn = seg.seq
            self.last_seq, self.last_abs = seg.seq + 1, 0
            return
        pos = self._absolute(seg.seq)
        if seg.payload:
            self.pieces.append((pos, seg.ts, seg.payload))
        if seg.flags & FIN:
            self.fin_abs = pos + seg.length
        if seg.flags & RST:
            self.reset = True

    def _end(self, origin: int) -> int:
        """The offset after the last byte the capture saw sent (or the FIN announced)."""
        last = max((pos + len(payload) for pos, _, payload in self.pieces), default=origin)
        return max(last, self.fin_abs if self.fin_abs is not None else 0) - origin

    def stream(self, reset: bool, budget: Budget) -> Stream:
        """The bytes in order; a gap is zero-filled while ``budget`` lasts, else the stream ends
        there (the rest is recorded as missing, not held in memory)."""
        origin = 0
        if self.isn is None and self.pieces:  # capture began mid-stream: start at the lowest byte
            origin = min(p[0] for p in self.pieces)
        out = bytearray()
        missing: list[tuple[int, int]] = []
        starts: list[int] = []
        times: list[float] = []
        for pos, ts, payload in sorted(self.pieces, key=lambda p: (p[0], p[1])):
            off = pos - origin
            if off + len(payload) <= len(out):
                continue  # a retransmission of bytes already placed
            if off > len(out):
                if not budget.take(off - len(out)):
                    missing.append((len(out), max(off, self._end(origin))))
                    break
                missing.append((len(out), off))
                out += bytes(off - len(out))
            new = payload[len(out) - off :] if off < len(out) else payload
            starts.append(len(out))
            times.append(ts)
            out += new
        end = self.fin_abs - origin if self.fin_abs is not None else 0
        if end > len(out) and (not missing or missing[-1][1] <= len(out)):
            missing.append((len(out), end))
            if budget.take(end - len(out)):
                out += bytes(end - len(out))
        return Stream(
            bytes(out),
            tuple(missing),
            self.fin_abs is not None,
            reset,
            tuple(starts),
            tuple(times),
        )


@dataclass
class Connection:
    """A TCP connection: client (who sent the SYN) to server, with both byte streams."""

    client: Endpoint
    server: Endpoint
    first_ts: float
    last_ts: float
    handshake: bool  # the SYN was captured
    c2s: Stream
    s2c: Stream


@dataclass
class _Builder:
    client: Endpoint
    server: Endpoint
    first_ts: float
    last_ts: float
    handshake: bool
    halves: dict[Endpoint, _Half] = field(default_factory=dict)

    def add(self, seg: Segment) -> None:
        self.last_ts = max(self.last_ts, seg.ts)
        self.halves.setdefault(seg.src, _Half()).add(seg)

    def finished(self) -> bool:
        return any(h.fin_abs is not None or h.reset for h in self.halves.values())

    def build(self, budget: Budget) -> Connection:
        reset = any(h.reset for h in self.halves.values())  # an RST ends both directions
        c2s = self.halves.get(self.client, _Half()).stream(reset, budget)
        s2c = self.halves.get(self.server, _Half()).stream(reset, budget)
        return Connection(
            self.client, self.server, self.first_ts, self.last_ts, self.handshake, c2s, s2c
        )


def reassemble(segments: Iterable[Segment], budget: Budget | None = None) -> list[Connection]:
    """Group segments into connections (a new SYN on a finished 4-tuple starts a new one)."""
    budget = budget if budget is not None else Budget()
    done: list[_Builder] = []
    open_: dict[frozenset[Endpoint], _Builder] = {}
    for seg in segments:
        key = frozenset((seg.src, seg.dst))
        builder = open_.get(key)
        opening = bool(seg.flags & SYN) and not seg.flags & _ACK
        if builder is not None and opening:
            half = builder.halves.get(seg.src)
            if builder.finished() or (half is not None and half.isn not in (None, seg.seq)):
                done.append(builder)
                builder = None
        if builder is None:
            builder = _Builder(seg.src, seg.dst, seg.ts, seg.ts, opening)
            if seg.flags & SYN and seg.flags & _ACK:  # first seen: the server's SYN-ACK
                builder.client, builder.server = seg.dst, seg.src
                builder.handshake = True
            open_[key] = builder
        builder.add(seg)
    done.extend(open_.values())
    return sorted((b.build(budget) for b in done), key=lambda c: c.first_ts)
