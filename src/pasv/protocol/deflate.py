"""MODE Z's sender: one zlib (RFC 1950) stream that stops compressing data that does not shrink.

Archives, media and encrypted files do not get smaller under deflate, yet compressing them
costs as much CPU as text. So the stream is written as raw deflate between our own zlib header
and Adler-32 trailer, and the compressor is swapped when a window of input did not shrink: the
old one ends its part with a sync flush (byte-aligned, no final block) and a level-0 one (stored
blocks, a copy) goes on. Every ``PROBE_AFTER`` bytes stored, one window is compressed again to
see whether the data changed. Any inflater reads the result as one ordinary stream (pigz joins
its parallel pieces the same way).
"""

from __future__ import annotations

import zlib

WINDOW = 1024 * 1024  # input judged at a time
SHRINKS = 0.97  # a window "compresses" when its output is below this share of its input
PROBE_AFTER = 16 * 1024 * 1024  # stored bytes before compressing one window again
_FLG = {0: 0x01, 1: 0x01, 2: 0x5E, 3: 0x5E, 4: 0x5E, 5: 0x5E, 6: 0x9C, 7: 0xDA, 8: 0xDA, 9: 0xDA}


def _raw(level: int) -> zlib._Compress:
    return zlib.compressobj(level, zlib.DEFLATED, -15)


class AdaptiveDeflater:
    """``compress`` pieces, then ``finish``; the output is one zlib stream of all of them."""

    __slots__ = ("_adler", "_comp", "_header", "_level", "_seen", "_stored", "_win_in",
                 "_win_out", "stored_bytes")  # fmt: skip

    def __init__(self, level: int = 6) -> None:
        if not 0 <= level <= 9:
            raise ValueError(f"deflate level 0-9, not {level}")
        self._level = level
        self._comp = _raw(level)
        self._adler = 1
        self._header = True
        self._stored = level == 0  # level 0 stores anyway: nothing to decide
        self._win_in = self._win_out = 0
        self._seen = 0  # bytes stored since the last probe
        self.stored_bytes = 0  # input passed through stored blocks because it did not shrink

    def _start(self) -> bytes:
        if not self._header:
            return b""
        self._header = False
        return bytes((0x78, _FLG[self._level]))

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        head = self._start()
        self._adler = zlib.adler32(data, self._adler)
        out = self._comp.compress(data)
        size = len(data)
        if self._level == 0:
            return head + out
        if self._stored:
            self.stored_bytes += size
            self._seen += size
            if self._seen >= PROBE_AFTER:  # has the data changed? compress one window again
                out += self._switch(stored=False)
            return head + out
        self._win_in += size
        self._win_out += len(out)
        if self._win_in >= WINDOW:
            if self._win_out >= SHRINKS * self._win_in:
                out += self._switch(stored=True)
            self._win_in = self._win_out = 0
        return head + out

    def _switch(self, *, stored: bool) -> bytes:
        """End the current compressor's part (sync flush) and go on with the other kind."""
        tail = self._comp.flush(zlib.Z_SYNC_FLUSH)
        self._comp = _raw(0 if stored else self._level)
        self._stored = stored
        self._seen = 0
        self._win_in = self._win_out = 0
        return tail

    def finish(self) -> bytes:
        """The last block and the Adler-32 of all the input (big-endian)."""
        return self._start() + self._comp.flush(zlib.Z_FINISH) + self._adler.to_bytes(4, "big")
