"""Plain control connections without an event-loop transport each.

An idle logged-in session is what a server holds most of, and uvloop's TCP transport and its
libuv handle cost about 1,090 bytes per connection, more than the session itself. Here every
plain control connection of a server is one small object in the server's epoll set
(``watch.Watch``, shared with the passive listeners): about 210 bytes with its C-level
socket and its entry in the set.
Replies are written at once with ``send``; only what the kernel does not take is buffered,
and the set then also waits for the socket to be writable. Implicit FTPS connections keep
the loop's TCP transport, under our own TLS layer (``controltls``), as explicit FTPS is over this.

``ControlSocket`` is the part of ``asyncio.Transport`` the control connection uses, with the
same callbacks to its protocol (``connection_made``, ``data_received``, ``eof_received``,
``pause_writing``/``resume_writing``, ``connection_lost`` soon after a close).
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import errno
import logging
import select
import socket
from collections.abc import Callable
from typing import Any

from pasv.config import Settings
from pasv.server.watch import Watch

log = logging.getLogger("pasv.server")

_READ_SIZE = 65536
# Each call is non-blocking, not the socket: no fcntl/ioctl per connection (Python's accept
# cannot ask for SOCK_NONBLOCK as libuv does).
_DONTWAIT = socket.MSG_DONTWAIT
_HIGH_WATER = 65536  # buffered reply bytes before the protocol is asked to stop writing
_LOW_WATER = 16384
_ACCEPT_PAUSE = 1.0  # out of descriptors: stop accepting this long (as asyncio does)
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

# ControlSocket._state bits
_PAUSED = 1  # the protocol paused reading
_CLOSING = 2  # close() or abort(): no more reading or writing from the protocol
_LOST = 4  # connection_lost is called (or about to be)
_WRITE_PAUSED = 8  # the protocol was told pause_writing
_EOF = 16  # the client closed its side: nothing more to read


class ControlSocket(asyncio.Transport):
    """One plain control connection in a ``Watch``."""

    __slots__ = ("_out", "_peer", "_protocol", "_state", "fd", "sock", "watch")

    def __init__(
        self, watch: Watch, sock: _socket.socket, peer: Any, protocol: asyncio.Protocol
    ) -> None:
        # no super().__init__(): its dict of extra information is 64 bytes per connection
        self.watch = watch
        self.sock = sock
        self.fd = sock.fileno()
        self._peer = peer
        self._protocol = protocol
        self._out: bytearray | None = None
        self._state = 0
        watch.watch(self.fd, self, select.EPOLLIN)

    def made(self) -> None:
        """The protocol has its peer address (the session keeps it): asked anew after this."""
        self._peer = None

    # --- asyncio.BaseTransport ------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            if self._peer is not None:
                return self._peer
            try:
                return self.sock.getpeername()
            except OSError:
                return default
        if name == "sockname":
            try:
                return self.sock.getsockname()
            except OSError:
                return default
        if name == "socket":
            return self.sock
        return default

    def is_closing(self) -> bool:
        return bool(self._state & _CLOSING)

    def close(self) -> None:
        """Write what is buffered, then close."""
        if self._state & _CLOSING:
            return
        self._state |= _CLOSING
        if self._out:
            self._watch()  # no more reading; writable still wanted
        else:
            self._lose(None)

    # --- asyncio.ReadTransport ------------------------------------------------------------
    def is_reading(self) -> bool:
        return not self._state & (_PAUSED | _CLOSING | _EOF)

    def pause_reading(self) -> None:
        if not self._state & (_PAUSED | _CLOSING):
            self._state |= _PAUSED
            self._watch()

    def resume_reading(self) -> None:
        if self._state & _PAUSED and not self._state & _CLOSING:
            self._state &= ~_PAUSED
            self._watch()

    # --- asyncio.WriteTransport -----------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._state & _CLOSING or not data:
            return
        out = self._out
        if out:
            out += data
        else:
            try:
                sent = self.sock.send(data, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(exc)
                return
            if sent == len(data):
                return
            self._out = out = bytearray(memoryview(data)[sent:])
            self._watch()
        if len(out) > _HIGH_WATER and not self._state & _WRITE_PAUSED:
            self._state |= _WRITE_PAUSED
            self._protocol.pause_writing()

    def get_write_buffer_size(self) -> int:
        return len(self._out) if self._out else 0

    def abort(self) -> None:
        """Close now; what is buffered is dropped."""
        self._state |= _CLOSING
        self._out = None
        self._lose(None)

    # --- events from the watch ------------------------------------------------------------
    def ready(self, events: int) -> None:
        if events != select.EPOLLIN or self._state:  # anything but the common case
            if events & select.EPOLLOUT:
                self._flush()
            if not self.is_reading():
                if events & (select.EPOLLHUP | select.EPOLLERR) and not self._state & _LOST:
                    # reported whether asked for or not: gone both ways, nothing can be written
                    self._fail(ConnectionResetError(errno.ECONNRESET, "connection reset"))
                return
            if not events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                return
        # reading: a hang-up or an error shows as the end of the stream or a failed recv
        try:
            data = self.sock.recv(_READ_SIZE, _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        try:
            if data:
                self._protocol.data_received(data)
                return
            self._state |= _EOF
            self._watch()
            if not self._protocol.eof_received():
                self.close()
        except Exception:
            peer = self.get_extra_info("peername")
            log.exception("control connection from %s failed; closing it", peer)
            self.abort()

    def _flush(self) -> None:
        out = self._out
        if out:
            try:
                sent = self.sock.send(out, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._fail(exc)
                return
            del out[:sent]
            if out:
                if self._state & _WRITE_PAUSED and len(out) <= _LOW_WATER:
                    self._resume_writing()
                return
        self._out = None
        if self._state & _CLOSING:
            self._lose(None)
            return
        self._watch()
        if self._state & _WRITE_PAUSED:
            self._resume_writing()

    def _resume_writing(self) -> None:
        self._state &= ~_WRITE_PAUSED
        self._protocol.resume_writing()

    def _watch(self) -> None:
        """Tell the watch what this connection waits for now."""
        if self._state & _LOST:
            return
        events = 0
        if self.is_reading():
            events |= select.EPOLLIN
        if self._out:
            events |= select.EPOLLOUT
        self.watch.change(self.fd, events)

    def _fail(self, exc: Exception) -> None:
        self._state |= _CLOSING
        self._out = None
        self._lose(exc)

    def _lose(self, exc: Exception | None) -> None:
        """Out of the watch now; at the next turn the protocol hears of it, then the socket
        closes (as asyncio's transports do: once the client sees the end, the server has
        forgotten the session)."""
        if self._state & _LOST:
            return
        self._state |= _LOST
        self.watch.forget(self.fd)  # closing takes it out of the epoll set
        self.watch.loop.call_soon(self._end, exc)

    def _end(self, exc: Exception | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self.sock.close()


class ControlListener:
    """Accepts plain control connections into a ``Watch`` (for ``loop.create_server``)."""

    def __init__(
        self, watch: Watch, sock: socket.socket, factory: Callable[[], asyncio.Protocol]
    ) -> None:
        self.watch = watch
        self._sock: socket.socket | None = sock
        self._factory = factory
        self._family = int(sock.family)
        sock.setblocking(False)
        watch.loop.add_reader(sock.fileno(), self._accept)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._sock is None else (self._sock,)

    def _accept(self) -> None:
        listener = self._sock
        if listener is None:
            return
        # One per wake-up: the listener stays ready while more wait (level-triggered), so a
        # burst is taken between other sessions' commands, and no accept fails with EAGAIN.
        try:
            fd, peer = listener._accept()  # type: ignore[attr-defined]  # accept, unwrapped
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:  # accepting again at once would spin
                log.error("cannot accept a control connection: %s; pausing", exc.strerror)
                loop = self.watch.loop
                loop.remove_reader(listener.fileno())
                loop.call_later(_ACCEPT_PAUSE, self._resume)
            return  # or this one failed (ECONNABORTED …); the next may not
        # the C socket type: socket.socket's Python layer (close, __init__, its enum-typed
        # family and type) costs CPU per connection and 24 bytes per session here
        conn = _socket.socket(self._family, socket.SOCK_STREAM, 0, fd)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        protocol = self._factory()
        transport = ControlSocket(self.watch, conn, peer, protocol)
        try:
            protocol.connection_made(transport)
        except Exception:
            log.exception("control connection from %s failed; closing it", peer)
            transport.abort()
        transport.made()

    def _resume(self) -> None:
        if self._sock is not None:
            self.watch.loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        """Stop accepting and close the listening socket; open connections go on."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(RuntimeError):
                self.watch.loop.remove_reader(sock.fileno())
            sock.close()


def listening_socket(
    settings: Settings, port: int | None = None, *, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A listening socket on the configured address, or dual-stack '::'; with ``reuse_port``,
    one of a group (SO_REUSEPORT) in which the kernel spreads new connections evenly."""
    cfg = settings.server
    port = cfg.port if port is None else port
    host = cfg.host
    if host is None:
        family, host = (socket.AF_INET6, "::") if socket.has_ipv6 else (socket.AF_INET, "0.0.0.0")
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6 and cfg.host is None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(cfg.backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
