"""Files put back together from their transfers: REST offsets, APPE, TYPE A, MODE Z and B,
checked sizes."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from typing import Literal

from pasv.diagnostics.pcap.budget import Budget
from pasv.diagnostics.pcap.sessions import Session, Transfer
from pasv.protocol import blockmode
from pasv.protocol.ascii import FromNetwork

__all__ = ["RebuiltFile", "rebuild_files"]


def _covered(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The holes: parts of [0, length) that no span covers."""
    holes: list[tuple[int, int]] = []
    cursor = 0
    for start, end in sorted(spans):
        if start > cursor:
            holes.append((cursor, min(start, length)))
        cursor = max(cursor, end)
        if cursor >= length:
            break
    if cursor < length:
        holes.append((cursor, length))
    return [h for h in holes if h[0] < h[1]]


@dataclass
class RebuiltFile:
    """One file (or listing) as the capture lets us rebuild it."""

    kind: Literal["listing", "download", "upload"]
    path: str
    session: int
    transfers: list[Transfer] = field(default_factory=list)
    content: bytearray = field(default_factory=bytearray)
    spans: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    expected: int | None = None
    ends_cleanly: bool = False  # the transfer that wrote the last byte finished and was whole

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def holes(self) -> list[tuple[int, int]]:
        return _covered(self.spans, max(len(self.content), self.expected or 0))

    @property
    def complete(self) -> bool:
        if self.holes or self.conflicts:
            return False
        if self.expected is not None:
            return len(self.content) == self.expected
        return self.ends_cleanly

    def status(self) -> list[str]:
        """Why the file is incomplete (empty when it is whole)."""
        out = [f"bytes {a}-{b} are missing" for a, b in self.holes] + self.conflicts
        if self.expected is not None and len(self.content) != self.expected:
            out.append(f"{len(self.content)} bytes rebuilt, the server announced {self.expected}")
        elif self.expected is None and not self.ends_cleanly and not out:
            out.append("no complete transfer reached the end of the file, and no SIZE to check")
        return out

    def write(
        self, transfer: Transfer, offset: int, data: bytes, missing: list[tuple[int, int]]
    ) -> None:
        """Place a transfer's bytes at ``offset``; its gaps leave what is already there."""
        end = offset + len(data)
        if transfer.verb == "STOR":  # STOR replaces the file from its offset on
            del self.content[end:]
            self.spans = [(a, min(b, offset)) for a, b in self.spans if a < offset]
        grows = end > len(self.content)
        if grows:
            self.content.extend(bytes(end - len(self.content)))
        cursor = 0
        for a, b in [*missing, (len(data), len(data))]:
            if a > cursor:
                self._place(offset + cursor, data[cursor:a])
            cursor = max(cursor, b)
        self.transfers.append(transfer)
        if grows or transfer.verb == "STOR":
            self.ends_cleanly = not transfer.problems
        elif end == len(self.content):  # another transfer to the end: one clean one suffices
            self.ends_cleanly = self.ends_cleanly or not transfer.problems

    def _place(self, start: int, part: bytes) -> None:
        end = start + len(part)
        for a, b in self.spans:
            lo, hi = max(a, start), min(b, end)
            if lo < hi and self.content[lo:hi] != part[lo - start : hi - start]:
                first, last = _differing(self.content[lo:hi], part[lo - start : hi - start])
                self.conflicts.append(
                    f"transfers disagree on bytes {lo + first}-{lo + last} (changed file?)"
                )
        self.content[start:end] = part
        self.spans.append((start, end))


def _differing(a: bytes | bytearray, b: bytes) -> tuple[int, int]:
    """The first differing offset and the end of the last difference of two equal-size runs."""
    step = 65536
    chunks = [i for i in range(0, len(a), step) if a[i : i + step] != b[i : i + step]]
    head, tail = chunks[0], chunks[-1]
    first = next(i for i in range(head, min(head + step, len(a))) if a[i] != b[i])
    last = next(i for i in reversed(range(tail, min(tail + step, len(a)))) if a[i] != b[i])
    return first, last + 1


def _unmode(transfer: Transfer, data: bytes, notes: list[str], budget: Budget) -> bytes:
    """MODE Z inflated, MODE B unblocked; what cannot be decoded is said in ``notes``."""
    what = f"{transfer.verb} {transfer.arg}"
    if transfer.mode == "Z":
        inflate = zlib.decompressobj()
        limit = len(data) + budget.left  # the inflated bytes beyond the captured ones are spent
        try:
            out = inflate.decompress(data, limit + 1)
        except zlib.error as exc:
            notes.append(f"{what}: the MODE Z data cannot be inflated past a point ({exc})")
            return b""
        budget.take(len(out) - len(data))
        if len(out) > limit:
            notes.append(f"{what}: the MODE Z data inflates to more than {limit} bytes; "
                         f"only the first {limit} are rebuilt")  # fmt: skip
            return out[:limit]
        if not inflate.eof:
            notes.append(f"{what}: the MODE Z stream does not end in the capture")
        return out
    decoder = blockmode.BlockDecoder()
    events: list[blockmode.Event] = []
    try:
        for start in range(0, len(data), 65536):  # what came before a bad block is kept
            events += decoder.feed(data[start : start + 65536])
        decoder.check_end()
    except blockmode.BadBlock as exc:
        notes.append(f"{what}: MODE B: {exc}")
    return b"".join(e.data for e in events if isinstance(e, blockmode.Data))


def _payload(
    transfer: Transfer, notes: list[str], budget: Budget
) -> tuple[bytes, list[tuple[int, int]]]:
    assert transfer.data is not None
    data, missing = transfer.data.data, list(transfer.data.missing)
    if transfer.mode in ("Z", "B"):
        if missing:  # neither stream can be read across a hole: the part before it
            notes.append(f"{transfer.verb} {transfer.arg}: MODE {transfer.mode} data with a gap; "
                         "only the bytes before it are rebuilt")  # fmt: skip
            data = data[: missing[0][0]]
        data, missing = _unmode(transfer, data, notes, budget), []
    if transfer.type == "A" and transfer.kind != "listing":
        converter = FromNetwork()
        data = converter.feed(data) + converter.flush()
    return data, missing


def _expected(session: Session, item: RebuiltFile, transfer: Transfer) -> int | None:
    sizes = session.sizes.get(item.path, [])
    if transfer.kind == "download":
        before = [size for ts, size in sizes if ts <= transfer.ts]
        if before:
            return before[-1]
        if transfer.size_hint is not None:
            return transfer.rest + transfer.size_hint
    after = [size for ts, size in sizes if ts > transfer.ts]
    return after[0] if after else item.expected


def rebuild_files(sessions: list[Session], budget: Budget | None = None) -> list[RebuiltFile]:
    """Every file and listing the capture shows, in order of first transfer.

    Zero bytes before an offset (REST, APPE after a SIZE) are held only while ``budget`` lasts;
    a transfer placed beyond it is not placed, and the file is incomplete with the reason.
    """
    budget = budget if budget is not None else Budget()
    files: dict[tuple[str, str, str, int], RebuiltFile] = {}
    order: list[RebuiltFile] = []
    for number, session in enumerate(sessions, 1):
        for index, transfer in enumerate(session.transfers):
            key_path = f"{transfer.path}#{index}" if transfer.kind == "listing" else transfer.path
            server = session.conn.server[0]
            key = (transfer.kind, server, key_path, number if transfer.kind == "listing" else 0)
            item = files.get(key)
            if item is None:
                item = files[key] = RebuiltFile(transfer.kind, transfer.path, number)
                order.append(item)
            if transfer.data is None:
                item.notes.append(
                    f"{transfer.verb} {transfer.arg}: " + "; ".join(transfer.problems)
                )
                item.transfers.append(transfer)
                continue
            data, missing = _payload(transfer, item.notes, budget)
            offset = transfer.rest
            if transfer.verb == "APPE":
                base = session.sizes.get(item.path, [])
                known = [s for ts, s in base if ts <= transfer.ts]
                if item.transfers:
                    offset = len(item.content)
                elif known:
                    offset = known[-1]
                    item.notes.append(f"APPE added to {offset} bytes that are not in the capture")
            if not budget.take(offset - len(item.content)):
                item.conflicts.append(f"{transfer.verb} {transfer.arg}: its data would start "
                                      f"at byte {offset}, beyond what pasv fills with zero "
                                      "bytes; it is not rebuilt")  # fmt: skip
                item.transfers.append(transfer)
                continue
            item.write(transfer, offset, data, missing)
            if transfer.final is None and not (transfer.data.closed or transfer.data.reset):
                item.conflicts.append(f"the capture ends during {transfer.verb} {transfer.arg}")
            item.expected = _expected(session, item, transfer)
    return order
