"""One epoll set per server for its control connections and passive listeners.

The loop watches the set as a single descriptor. Watching each passive listener with
``loop.add_reader`` cost eight system calls per PASV under uvloop (a probe add and delete, a
mode change, the add, three deletes when it stops); here it costs one (``EPOLL_CTL_ADD``), and
closing a listener takes it out of the set by itself. Each plain control connection is one
small entry too, instead of a loop transport and its handle (``controlsocket``). One wake-up
of the loop serves every descriptor that is ready: a client's data connection and the command
that follows it are often taken in one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from typing import Protocol

_MAX_EVENTS = 64  # events taken per wake-up of the loop (the rest wait for the next one)


class Watched(Protocol):
    """What the set calls when a descriptor is ready (``events``: the epoll bits)."""

    def ready(self, events: int) -> None: ...


class Watch:
    """The epoll set of one server on one event loop."""

    __slots__ = ("_closing", "_entries", "_epoll", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._epoll = select.epoll()
        self._entries: dict[int, Watched] = {}
        self._closing = False
        loop.add_reader(self._epoll.fileno(), self._ready)

    def __len__(self) -> int:
        return len(self._entries)

    def watch(self, fd: int, entry: Watched, events: int = select.EPOLLIN) -> None:
        self._epoll.register(fd, events)
        self._entries[fd] = entry

    def change(self, fd: int, events: int) -> None:
        self._epoll.modify(fd, events)

    def forget(self, fd: int) -> None:
        """Stop calling back for ``fd``; its owner closes it next (which unregisters it)."""
        self._entries.pop(fd, None)
        self._shut_if_done()

    def _ready(self) -> None:
        entries = self._entries
        for fd, events in self._epoll.poll(0, _MAX_EVENTS):
            entry = entries.get(fd)
            if entry is not None:
                entry.ready(events)
            else:  # forgotten but still open: stop hearing about it
                with contextlib.suppress(OSError):
                    self._epoll.unregister(fd)

    def close(self) -> None:
        """Stop watching once the last entry has gone (replies may still be flushing)."""
        self._closing = True
        self._shut_if_done()

    @property
    def closed(self) -> bool:
        return self._epoll.closed

    def _shut_if_done(self) -> None:
        if self._closing and not self._entries and not self._epoll.closed:
            with contextlib.suppress(RuntimeError):  # the loop is closed already
                self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
