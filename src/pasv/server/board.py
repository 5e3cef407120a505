"""The session board: each worker's live sessions, published for the others to read.

One anonymous shared mapping is made before the workers fork (like ``shared.SharedState``).
Every worker owns one region: while the admin API is watching (it read the board within the
last ``WATCHED_FOR`` seconds), the worker's reaper writes a JSON list of its sessions there about
once a second, under a sequence counter (odd while writing), so a reader never takes a
half-written list. Nobody watching, it lists only its sessions with a transfer running (what the
console's throughput chart samples), and nothing while there are none: describing every session
each second cost 13-16% of a core for 4,000 idle sessions. A reader that finds the board
unwatched waits for each worker's next whole list. Each region also has a few kick slots: the
admin API writes a session number into a free slot, and the owner ends that session at its next
publish.
"""

from __future__ import annotations

import json
import logging
import mmap
import struct
from typing import Any

log = logging.getLogger("pasv.server")

# sequence, length of the JSON that follows, and 1 when it lists every session (0: only those
# transferring, what a worker publishes while the admin API is not watching)
_HEADER = struct.Struct("=QII")
_KICK = struct.Struct("=Q")
_KICK_SLOTS = 64
_WATCH = struct.Struct("=d")  # at the start: when the admin API last read (monotonic seconds)


class SessionBoard:
    """Per-worker lists of live sessions in shared memory."""

    REGION = 1 << 20  # bytes of JSON per worker (about 4,000 sessions)
    WATCHED_FOR = 30.0  # seconds the workers keep publishing after the admin API's last read

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._stride = _KICK.size * _KICK_SLOTS + _HEADER.size + self.REGION
        self._memory = mmap.mmap(-1, _WATCH.size + self._stride * workers)
        self._warned = False

    def _base(self, index: int) -> int:
        return _WATCH.size + index * self._stride

    def watched(self, now: float) -> bool:
        """Whether the admin API read the board lately (the workers publish only then)."""
        last: float = _WATCH.unpack_from(self._memory, 0)[0]
        return last > 0 and now - last < self.WATCHED_FOR

    def watch(self, now: float) -> bool:
        """The admin API is reading: keep the workers publishing. Whether they already were
        (if not, what the board holds may be old: wait for ``sequence`` to move)."""
        was = self.watched(now)
        _WATCH.pack_into(self._memory, 0, now)
        return was

    def sequence(self, index: int) -> tuple[int, bool]:
        """How many times worker ``index``'s list was written (times two; odd while writing),
        and whether that list holds every session of it."""
        sequence, _, everything = _HEADER.unpack_from(
            self._memory, self._base(index) + _KICK.size * _KICK_SLOTS
        )
        return int(sequence), bool(everything)

    # --- the owner ------------------------------------------------------------------------
    def publish(self, index: int, sessions: list[dict[str, Any]], everything: bool = True) -> None:
        data = json.dumps(sessions, separators=(",", ":")).encode()
        while len(data) > self.REGION and sessions:
            if not self._warned:
                self._warned = True
                log.warning("session board full: the admin API shows only part of worker %d", index)
            sessions = sessions[: len(sessions) * 3 // 4]
            data = json.dumps(sessions, separators=(",", ":")).encode()
        at = self._base(index) + _KICK.size * _KICK_SLOTS
        sequence = _HEADER.unpack_from(self._memory, at)[0]
        _HEADER.pack_into(self._memory, at, sequence + 1, 0, 0)  # odd: being written
        self._memory[at + _HEADER.size : at + _HEADER.size + len(data)] = data
        _HEADER.pack_into(self._memory, at, sequence + 2, len(data), int(everything))

    def take_kicks(self, index: int) -> list[int]:
        """Session numbers the admin API asked this worker to end (the slots are freed)."""
        found = []
        base = self._base(index)
        for slot in range(_KICK_SLOTS):
            at = base + slot * _KICK.size
            number = _KICK.unpack_from(self._memory, at)[0]
            if number:
                found.append(number)
                _KICK.pack_into(self._memory, at, 0)
        return found

    def clear(self, index: int) -> None:
        """The supervisor, after worker ``index`` died: its sessions are gone."""
        self.publish(index, [])

    # --- the admin API --------------------------------------------------------------------
    def read(self, index: int) -> list[dict[str, Any]]:
        at = self._base(index) + _KICK.size * _KICK_SLOTS
        for _ in range(100):
            sequence, length, _ = _HEADER.unpack_from(self._memory, at)
            if sequence % 2:
                continue
            data = bytes(self._memory[at + _HEADER.size : at + _HEADER.size + length])
            if _HEADER.unpack_from(self._memory, at)[0] == sequence:
                return list(json.loads(data)) if data else []
        return []

    def request_kick(self, index: int, number: int) -> bool:
        base = self._base(index)
        for slot in range(_KICK_SLOTS):
            at = base + slot * _KICK.size
            if _KICK.unpack_from(self._memory, at)[0] == 0:
                _KICK.pack_into(self._memory, at, number)
                return True
        return False
