"""TYPE A line-end conversion, streaming: LF on disk, CRLF on the wire."""

from __future__ import annotations


class _Converter:
    """Holds a trailing CR back until the next chunk shows whether an LF follows it."""

    __slots__ = ("_held_cr",)

    def __init__(self) -> None:
        self._held_cr = False

    def _join(self, data: bytes) -> bytes:
        if self._held_cr:
            data = b"\r" + data
        self._held_cr = data.endswith(b"\r")
        return data[:-1] if self._held_cr else data

    def flush(self) -> bytes:
        """What is still held at the end of the stream."""
        held, self._held_cr = self._held_cr, False
        return b"\r" if held else b""


class ToNetwork(_Converter):
    """File bytes -> wire bytes: every line end becomes CRLF (existing CRLFs are kept)."""

    __slots__ = ()

    def feed(self, data: bytes) -> bytes:
        return self._join(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class FromNetwork(_Converter):
    """Wire bytes -> file bytes: CRLF becomes LF; a lone CR is kept."""

    __slots__ = ()

    def feed(self, data: bytes) -> bytes:
        return self._join(data).replace(b"\r\n", b"\n")
