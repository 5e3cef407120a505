"""The control connection: lines in, replies out, one command at a time; ABOR and STAT overtake."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, cast

from pasv.protocol.codes import ReplyCode
from pasv.protocol.commands import lookup
from pasv.protocol.errors import FtpError
from pasv.protocol.parser import Command, ForeignCommand, LineBuffer, escaped, whole_line
from pasv.protocol.proxyheader import ProxyHeaderError
from pasv.protocol.replies import Reply, make_reply
from pasv.server import explicitftps, implicitftps
from pasv.server.controltls import ControlTls
from pasv.server.dispatch import dispatch, failure_reply, run_guarded
from pasv.server.language import EN, spoken_reply
from pasv.server.proxied import HeaderReader, NotABalancer
from pasv.server.session import Session

if TYPE_CHECKING:
    from pasv.server.app import FtpServer

log = logging.getLogger("pasv.session")

_MAX_QUEUE = 64  # pipelined commands held before we stop reading from the client
_LOGIN_COMMANDS = frozenset({"USER", "PASS"})
_NO_DEADLINE = float("inf")  # one object, shared by every logged-in session
# What a session remembers of its last PASS: the command, never the password it carried.
_PASS_WITHOUT_PASSWORD = Command("PASS")


class ControlProtocol(asyncio.Protocol):
    """One client's control connection."""

    __slots__ = (
        "cleared",
        "closing",
        "current",
        "deadline",
        "farewell",
        "gone",
        "header",
        "held",
        "implicit",
        "lines",
        "login_deadline",
        "queue",
        "read_paused",
        "server",
        "session",
        "tls",
        "transport",
        "urgent",
        "urgent_task",
        "write_paused",
    )

    def __init__(self, server: FtpServer, *, implicit: bool = False) -> None:
        self.server = server
        self.implicit = implicit  # implicit FTPS: the transport is TLS from the first byte
        # made for the first read that is not one whole line (most reads are: see data_received)
        self.lines: LineBuffer | None = None
        # Lists, not deques: at most _MAX_QUEUE items, and an empty deque costs 760 bytes per
        # session against 56; and no list at all while nothing waits (the empty tuple is
        # shared): idle sessions are what a server holds most of.
        self.queue: list[Command | FtpError] | tuple[()] = ()
        self.current: asyncio.Task[None] | None = None
        # ABOR and STAT that overtake a running transfer, answered in the order they came
        self.urgent: list[Command] | tuple[()] = ()
        self.urgent_task: asyncio.Task[None] | None = None
        self.closing = False
        self.gone = False
        self.read_paused = False
        self.write_paused = False
        self.deadline = 0.0
        self.tls: ControlTls | None = None  # explicit FTPS: our TLS layer (AUTH TLS until CCC)
        self.cleared = False  # CCC ended TLS on this connection
        self.header: HeaderReader | None = None  # [proxy] on: the first bytes are checked
        self.farewell: Reply | None = None  # draining: the 421 sent once the running command ends
        self.held: Reply | None = None  # a 150 that goes out with the next reply (see hold)

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        # SO_OOBINLINE (ABOR sent as urgent data arrives inline) is inherited from the listener.
        # creating the session starts the login timer (Session.reset calls restart_login_timer)
        self.session = Session(self.server, self, transport.get_extra_info("peername"))
        if self.implicit and self.server.tls is not None:
            implicitftps.admit(self)
            return
        balancers = self.server.balancers
        if balancers is not None:
            self.header = balancers.reader(self.session.peer_ip)
            if self.header.required:  # a balancer: its PROXY header comes before our greeting
                self.login_deadline = time.monotonic() + balancers.header_timeout
                self.server.awaiting_header.add(self)
                return
        self._open()

    def _open(self) -> None:
        """Admit the connection (or refuse it) and greet (as the SNI-named host, if any)."""
        refusal = self.server.session_opened(self)
        if refusal is not None:
            self.send(refusal)
            self.close()
            return
        self.greet()

    def greet(self) -> None:
        host = self.session.options.tls_host
        self.send(self.server.greeting if host is None else host.greeting(self.session.lang))

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if self.tls is not None:
            data = explicitftps.decrypt(self, data)
        elif self.header is not None:
            data = self._after_header(data)
        lines = self.lines
        # attribute reads (not Session.charsets, not the settings model): every read does it
        charsets = self.session.options.charsets or self.server.charsets
        items = None if lines is not None else whole_line(data, self.server.max_line, charsets)
        if items is None:
            if lines is None:
                lines = self.lines = LineBuffer(self.server.max_line)
            items = lines.feed(data, charsets)
        for item in items:
            if isinstance(item, ForeignCommand):
                self.session.heard(item.charset)
            if self._overtakes(item):
                assert isinstance(item, Command)
                urgent = self.urgent
                if isinstance(urgent, list):
                    urgent.append(item)
                else:
                    self.urgent = [item]
            else:
                queue = self.queue
                if isinstance(queue, list):
                    queue.append(item)
                    self._abort_behind(item)
                else:
                    self.queue = [item]
        if self._waiting() > _MAX_QUEUE and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        if self.urgent and self.urgent_task is None:
            self.urgent_task = asyncio.ensure_future(self._run_urgent())
        self.drive()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.gone:  # a failed TLS handshake already cleaned up
            return
        self.gone = True
        self.closing = True
        if self.tls is not None and not self.tls.ready.done():
            self.tls.ready.set_exception(ConnectionResetError("connection closed in the handshake"))
        self.queue = ()
        self.urgent = ()
        session = self.session
        if session.transfer is not None:
            session.transfer.abort("control connection closed")
        session.close_data()
        self.server.session_closed(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.drive()

    # --- behind a load balancer (PROXY protocol) -------------------------------------------
    def _after_header(self, data: bytes) -> bytes:
        """The bytes after a balancer's PROXY header (greeting the client it names), or after
        checking that a client elsewhere sent none; b"" while the header is incomplete."""
        reader = self.header
        assert reader is not None
        session = self.session
        try:
            result = reader.feed(data)
        except ProxyHeaderError as exc:
            self._refuse_header(exc)
            return b""
        if result is None:
            return b""
        header, rest = result
        self.header = None
        if not reader.required:
            return rest
        self.server.awaiting_header.discard(self)
        if header is not None and header.source is not None:
            balancer = session.peer_ip
            session.behind(balancer, header.source)
            log.debug(
                "[%d] %s via balancer %s (PROXY v%d)",
                session.id,
                session.peer_ip,
                balancer,
                header.version,
            )
        self.restart_login_timer()
        self._open()
        return b"" if self.closing else rest

    def _refuse_header(self, exc: ProxyHeaderError) -> None:
        session = self.session
        if isinstance(exc, NotABalancer):
            log.warning(
                "[%d] %s refused: it sent a PROXY header but is not a trusted balancer "
                "([proxy] trusted)",
                session.id,
                session.peer_ip,
            )
            text = "PROXY header refused: your address is not a configured load balancer."
        else:
            log.warning(
                "[%d] %s refused: malformed PROXY header from the balancer: %s",
                session.id,
                session.peer_ip,
                exc,
            )
            text = f"Malformed PROXY protocol header: {exc}."
        self.server.awaiting_header.discard(self)
        self.send(make_reply(ReplyCode.SERVICE_UNAVAILABLE, text))

    # --- TLS ------------------------------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        """Whether commands travel under TLS now (not before AUTH TLS, nor after CCC)."""
        return self.session.tls is not None and not self.cleared

    # --- command pipeline -----------------------------------------------------------------
    def _overtakes(self, item: Command | FtpError) -> bool:
        """ABOR and STAT are answered at once while a transfer runs (RFC 959); NOOP is not: its
        200 could be taken for the transfer's final reply.

        Not when other commands already wait in the queue: replies must keep the commands' order.
        """
        if not isinstance(item, Command) or self.session.transfer is None or self.queue:
            return False
        spec = lookup(item.name)
        return spec is not None and spec.during_transfer

    def _abort_behind(self, item: Command | FtpError) -> None:
        """An ABOR behind waiting commands (a client's NOOP keep-alives) stops the transfer at
        once; its reply still comes in its turn, after theirs (the transfer's 426 goes first)."""
        transfer = self.session.transfer
        if (
            transfer is not None
            and isinstance(item, Command)
            and item.name == "ABOR"
            and self.abor_waiting()
        ):
            transfer.abort("ABOR received")

    def abor_waiting(self) -> bool:
        """Whether an ABOR for the running command waits in the queue: one sent right behind
        it, or behind commands that move no data. An ABOR belongs to the last transfer command
        sent before it, so one behind another RETR or STOR waits for that one."""
        for item in self.queue:
            if isinstance(item, Command):
                if item.name == "ABOR":
                    return True
                spec = lookup(item.name)
                if spec is not None and spec.data:
                    return False
        return False

    def _waiting(self) -> int:
        return len(self.queue) + len(self.urgent)

    def drive(self) -> None:
        """Run queued commands one at a time; never while an overtaking command is unanswered."""
        if self.farewell is not None and self.current is None and self.urgent_task is None:
            self.send(self.farewell)  # draining: the running command is answered, now 421
            return
        while (
            self.queue
            and self.current is None
            and self.urgent_task is None
            and not self.closing
            and not self.write_paused
        ):
            queue = self.queue
            assert isinstance(queue, list)  # not empty
            item = queue.pop(0)
            if not queue:
                self.queue = ()
            self._log_command(item)
            result = dispatch(self.session, item)
            if isinstance(result, Reply):
                if result.code >= 400:
                    self._refused(item, result)
                self.send(result)
            else:
                self.current = self.server.loop.create_task(self._finish(result, item))
        if self.read_paused and self._waiting() <= _MAX_QUEUE // 2 and not self.closing:
            self.read_paused = False
            self.transport.resume_reading()

    async def _finish(self, pending: Coroutine[Any, Any, Reply], item: Command | FtpError) -> None:
        session = self.session
        try:  # run_guarded, inlined: one coroutine fewer per command
            reply = await pending
        except Exception as exc:
            reply = failure_reply(session, exc)
        self.current = None
        finished = session.finished
        if reply.code >= 400:
            self._refused(item, reply)
        if not self.closing:
            self.send(reply)
        if finished is not None:  # a transfer: its event once the final reply said 226
            session.finished = None
            if reply.code == ReplyCode.TRANSFER_COMPLETE:
                session.server.events.transferred(session, *finished)
        if not self.closing:
            self.drive()

    async def _run_urgent(self) -> None:
        """Answer the overtaking commands one by one (ABOR waits for its transfer's 426 first).

        The transfer that one of them came during may be over by its turn, its command still
        finishing (the file closed, the usage settled): from then on they wait in the queue,
        ahead of what came after them, and are answered after that command's final reply.
        """
        while self.urgent and not self.closing:
            urgent = self.urgent
            assert isinstance(urgent, list)  # not empty
            if self.session.transfer is None:
                self.queue = [*urgent, *self.queue]
                self.urgent = ()
                break
            item = urgent.pop(0)
            if not urgent:
                self.urgent = ()
            self._log_command(item)
            result = dispatch(self.session, item)
            reply = result if isinstance(result, Reply) else await run_guarded(self.session, result)
            if not self.closing:
                self.send(reply)
        self.urgent_task = None
        self.drive()

    def _refused(self, item: Command | FtpError, reply: Reply) -> None:
        """A refused USER or PASS goes to the session log (shown by the admin console)."""
        if isinstance(item, Command) and item.name in _LOGIN_COMMANDS:
            log_ = self.server.sessionlog
            if log_.enabled:
                name = item.arg.strip() if item.name == "USER" else self.session.login_name
                log_.record("login_refused", self.session.peer_ip, name, reply.code, reply.text)

    def _log_command(self, item: Command | FtpError) -> None:
        session = self.session
        session.commands += 1
        if isinstance(item, Command) and item.name == "PASS":
            session.login_name = session.pending_user or ""
            session.last_command = _PASS_WITHOUT_PASSWORD  # an idle session keeps no password
        else:
            session.last_command = item
        if log.isEnabledFor(logging.DEBUG):
            if isinstance(item, Command):
                # a CR or an escape sequence in the argument must not rewrite the log line
                shown = (
                    "PASS ****"
                    if item.name == "PASS"
                    else escaped(f"{item.name} {item.arg}".rstrip())
                )
            else:
                shown = f"<{item.text}>"
            log.debug("[%d] %s Command: %s", self.session.id, self.session.peer_ip, shown)

    # --- output ---------------------------------------------------------------------------
    def hold(self, reply: Reply) -> None:
        """Send ``reply`` (a transfer's 150) with the next reply or at the next turn of the event
        loop, whichever comes first.

        A transfer that ends within the step that started it (a small file whose data
        connection was ready) then answers 150 and 226 in one write: one wake-up of the client
        instead of two (waking the other side is the largest single cost of a small RETR on
        loopback, docs/performance.md). The data has gone out and its connection is closed
        before either reply is read, as a client must expect anyway (two connections keep no
        order between them). A transfer that has to wait sends its 150 as it starts waiting.
        """
        self._release()  # one held at a time: an earlier one goes first, never lost
        self.held = reply
        self.server.loop.call_soon(self._release)

    def _release(self) -> None:
        held = self.held
        if held is not None:
            self.held = None
            self.send(held)

    def send(self, reply: Reply) -> None:
        """Write one reply (in the session's language), after a held one; a 421 also closes the
        connection."""
        if self.transport.is_closing():
            self.held = None
            return
        wire = self._wire(reply)
        held = self.held
        if held is not None:
            self.held = None
            wire = self._wire(held) + wire
        if self.tls is not None:
            self.tls.send(wire)
            if self.cleared and not self.tls.clearing:  # CCC's 200 went out
                explicitftps.cleared_sent(self, self.tls)
        else:
            self.transport.write(wire)
        if self.current is None and self.session.transfer is None:
            self.deadline = time.monotonic()  # the idle time counts from the last reply
        if reply.code == ReplyCode.SERVICE_UNAVAILABLE or reply.code == ReplyCode.CLOSING:
            self.close()

    def _wire(self, reply: Reply) -> bytes:
        """A reply's bytes, in the session's language (logged at debug level)."""
        lang = self.session.lang
        if lang != EN:
            reply = spoken_reply(reply, lang, self.server.gate.policy.messages)
        if log.isEnabledFor(logging.DEBUG):
            for line in reply.lines:
                log.debug(
                    "[%d] %s Response: %d %s",
                    self.session.id,
                    self.session.peer_ip,
                    reply.code,
                    line,
                )
        charsets = self.session.options.charsets or self.server.charsets
        return reply.encode(charsets[0])

    def close(self) -> None:
        """Finish writing what is queued, then close."""
        if not self.closing:
            self.closing = True
            self.queue = ()
            self.urgent = ()
            if self.tls is not None:
                self.tls.send_close_notify()
            self.transport.close()

    def drain(self, farewell: Reply) -> None:
        """The node is draining: answer the running command (a transfer may finish), then
        ``farewell`` (421) and close; nothing queued after it runs. Idle: at once."""
        self.farewell = farewell
        if not self.closing:
            self.drive()

    def expire_header(self, now: float) -> None:
        """Called by the reaper while a balancer's PROXY header is awaited."""
        if now >= self.login_deadline and not self.closing:
            timeout = self.server.settings.proxy.header_timeout
            log.warning(
                "[%d] %s refused: no PROXY header from the balancer within %g seconds",
                self.session.id,
                self.session.peer_ip,
                timeout,
            )
            self.server.awaiting_header.discard(self)
            text = f"No PROXY protocol header within {timeout:g} seconds."
            self.send(make_reply(ReplyCode.SERVICE_UNAVAILABLE, text))

    @property
    def pending(self) -> int:
        """Bytes of an unfinished command line the client has sent."""
        return 0 if self.lines is None else self.lines.pending

    def stop_login_timer(self) -> None:
        """Logged in: the login time no longer counts (and the session holds no deadline)."""
        self.login_deadline = _NO_DEADLINE

    def restart_login_timer(self) -> None:
        """A new login (connect, REIN, or USER while logged in) gets the full login time."""
        self.login_deadline = time.monotonic() + self.server.gate.policy.server.login_timeout

    def expire(self, now: float) -> None:
        """Called by the reaper: say why and close when the login or idle time is up; stop a
        transfer that moved nothing for the stall timeout."""
        transfer = self.session.transfer
        texts = self.server.gate.policy.messages
        if transfer is not None:
            limit = self.session.settings.stall_timeout
            transfer.check_stall(now, limit, texts.say("stalled", seconds=limit))
            return
        if self.closing or self.current is not None:
            return
        if self.session.user is None and now >= self.login_deadline:
            limit = self.server.gate.policy.server.login_timeout
            text = texts.say("login_timeout", seconds=limit)
        elif self.session.user is not None and now >= (
            self.deadline + self.session.settings.idle_timeout
        ):
            text = texts.say("idle_timeout", seconds=self.session.settings.idle_timeout)
        else:
            return
        self.send(make_reply(ReplyCode.SERVICE_UNAVAILABLE, text))
