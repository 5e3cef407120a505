"""FtpClient: the async FTP client (login, TLS, file commands, listings, transfers).

The data connections of its transfers are made and run by ``dataflow.DataFlow``; the bytes
are moved by the jobs in ``streamjobs``."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from pasv.client.addressing import names_a_host
from pasv.client.control import ControlConnection, feature_table
from pasv.client.dataflow import DataFlow, MarkSeen
from pasv.client.errors import ConnectionFailed, FtpClientError, LoginFailed, ReplyError
from pasv.client.listings import listing_lines, parse_listing
from pasv.client.options import ClientOptions
from pasv.client.streamjobs import Download, Listing, Progress, Upload
from pasv.client.trace import Kind
from pasv.protocol.listing import FileFacts, format_timeval
from pasv.protocol.replies import Reply

__all__ = ["FtpClient", "MarkSeen", "Progress"]


class FtpClient:
    """One FTP session: ``connect``, ``login``, then commands and transfers; ``quit`` at the end."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions()
        self._ctrl: ControlConnection | None = None
        self.features: dict[str, str] = {}
        self.welcome: Reply | None = None
        self._data = DataFlow(self)

    @property
    def passive(self) -> bool:
        """Data connections are passive (we connect); False after a fallback to active."""
        return self._data.passive

    @passive.setter
    def passive(self, value: bool) -> None:
        self._data.passive = value

    @property
    def mode(self) -> str:
        """The transfer mode in use: S stream, Z deflate, B block."""
        return self._data.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self._data.mode = value

    @property
    def last_data_session_reused(self) -> bool:
        """The last data connection resumed the control connection's TLS session."""
        return self._data.last_data_session_reused

    # --- plumbing ------------------------------------------------------------------------

    def _trace(self, kind: Kind, text: str) -> None:
        if self.options.trace is not None:
            self.options.trace(kind, text)

    def status(self, text: str) -> None:
        """Add a ``Status:`` line to the session log."""
        self._trace("Status", text)

    @property
    def ctrl(self) -> ControlConnection:
        if self._ctrl is None:
            raise ConnectionFailed("not connected")
        return self._ctrl

    async def command(self, line: str, timeout: float | None = None) -> Reply:
        """Send any command and return its reply, whatever the code (``timeout``: seconds to
        wait for it, instead of ``options.timeout``)."""
        return await self.ctrl.command(line, timeout)

    async def expect(self, line: str, *codes: int) -> Reply:
        """Send a command; raise ReplyError unless the reply is one of ``codes`` (default: 2xx)."""
        reply = await self.command(line)
        ok = reply.code in codes if codes else 200 <= reply.code < 300
        if not ok:
            raise ReplyError(line.split(" ", 1)[0].upper(), reply)
        return reply

    # --- session ---------------------------------------------------------------------------

    async def connect(self, host: str, port: int = 21) -> Reply:
        """Open the control connection, read the greeting, and run AUTH TLS when asked to."""
        opts = self.options
        context = opts.ssl_context if opts.implicit_tls else None
        if opts.any_tls and opts.ssl_context is None:
            raise ValueError("TLS needs an ssl_context (see pasv.client.tls_context)")
        self._data.host = host
        self._ctrl = await ControlConnection.open(
            host,
            port,
            context=context,
            server_hostname=host,
            encoding=opts.encoding,
            timeout=opts.timeout,
            trace=opts.trace,
        )
        reply = await self._ctrl.reply()
        while reply.code == 120:
            reply = await self._ctrl.reply()
        if reply.code != 220:
            await self.close()
            raise ReplyError("", reply)
        self.welcome = reply
        if opts.tls:
            await self.expect("AUTH TLS", 234)
            assert opts.ssl_context is not None
            await self.ctrl.start_tls(opts.ssl_context, host)
        await self.announce_host(host)
        return reply

    async def announce_host(self, host: str) -> Reply | None:
        """RFC 7151: name the virtual host before login, when ``host`` is a DNS name (not an
        address) and the server's FEAT lists HOST. Under explicit TLS it follows AUTH TLS, so the
        name is sent protected and matches the TLS server name (SNI). An unknown host (504)
        fails the connection with the server's reason; a server that lists HOST but refuses the
        command as unknown (500/502) is served without it."""
        if not self.options.send_host or not names_a_host(host):
            return None
        await self._read_features()
        if "HOST" not in self.features:
            return None
        reply = await self.command(f"HOST {host}")
        if reply.code in (500, 502):
            return None
        if reply.code != 220:
            await self.close()
            raise ReplyError("HOST", reply)
        return reply

    async def login(self, user: str, password: str) -> None:
        """USER/PASS, then FEAT, UTF-8, binary type, and PBSZ/PROT P on TLS."""
        reply = await self.command(f"USER {user}")
        if reply.code == 331:
            reply = await self.command(f"PASS {password}")
        if reply.code != 230:
            raise LoginFailed("PASS" if reply.code != 331 else "USER", reply)
        await self._read_features()
        if "UTF8" in self.features and self.options.encoding.lower().replace("-", "") == "utf8":
            await self.command("OPTS UTF8 ON")
        await self.expect("TYPE I")
        if self.ctrl.is_tls:
            await self.expect("PBSZ 0")
            await self.expect("PROT P")
            self._data.prot_p = True
        await self._choose_mode()

    async def _choose_mode(self) -> None:
        """MODE B when asked and accepted; else MODE Z when asked and FEAT lists it."""
        opts = self.options
        if opts.block:
            reply = await self.command("MODE B")
            if reply.code == 200:
                self.mode = "B"
                return
            self._trace("Status", f"MODE B refused ({reply.code} {reply.text}); stream mode.")
        if opts.compress:
            if "Z" not in self.features.get("MODE", "").upper().split():
                self._trace("Status", "The server's FEAT does not list MODE Z; not compressing.")
            elif (await self.command("MODE Z")).code == 200:
                self.mode = "Z"

    async def _read_features(self) -> None:
        self.features.update(feature_table(await self.command("FEAT")))

    async def quit(self) -> None:
        """QUIT politely, then close; never raises."""
        if self._ctrl is None:
            return
        try:
            await self._ctrl.send("QUIT")
            await self._ctrl.reply(timeout=5)
        except FtpClientError:
            pass
        await self.close()

    async def close(self) -> None:
        if self._ctrl is not None:
            await self._ctrl.close()
            self._ctrl = None

    async def __aenter__(self) -> FtpClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if t is None:
            await self.quit()
        else:
            await self.close()

    # --- file commands --------------------------------------------------------------------

    async def pwd(self) -> str:
        text = (await self.expect("PWD", 257)).lines[0]
        first, last = text.find('"'), text.rfind('"')
        return text[first + 1 : last].replace('""', '"') if 0 <= first < last else text

    async def cwd(self, path: str) -> None:
        await self.expect(f"CWD {path}")

    async def mkdir(self, path: str) -> None:
        await self.expect(f"MKD {path}", 257, 250)

    async def rmdir(self, path: str) -> None:
        await self.expect(f"RMD {path}", 250, 200)

    async def delete(self, path: str) -> None:
        await self.expect(f"DELE {path}", 250, 200)

    async def rename(self, source: str, target: str) -> None:
        await self.expect(f"RNFR {source}", 350)
        await self.expect(f"RNTO {target}", 250, 200)

    async def size(self, path: str) -> int | None:
        """The size in bytes; None when the server does not say (no SIZE, or not a file)."""
        reply = await self.command(f"SIZE {path}")
        if reply.code == 213 and reply.lines[0].strip().isdigit():
            return int(reply.lines[0].strip())
        if reply.code in (421, 530):
            raise ReplyError("SIZE", reply)
        return None

    async def set_mtime(self, path: str, mtime: float) -> bool:
        """MFMT when offered; True when the server accepted it."""
        if "MFMT" not in self.features:
            return False
        stamp = format_timeval(mtime)
        return (await self.command(f"MFMT {stamp} {path}")).code in (213, 250, 200)

    # --- listings --------------------------------------------------------------------------

    @property
    def uses_mlsd(self) -> bool:
        """Listings come from MLSD (times to the second), not LIST (often to the minute)."""
        return "MLST" in self.features

    async def _listing_text(self, command: str) -> str:
        job = Listing(command.rstrip(), self.options.max_listing)
        await self._data.run(command.rstrip(), job)
        return job.text(self.options.encoding)

    async def listdir(self, path: str = "") -> list[FileFacts]:
        """Entries of a directory, from MLSD when offered, else parsed from LIST."""
        mlsd = self.uses_mlsd
        text = await self._listing_text(f"{'MLSD' if mlsd else 'LIST'} {path}")
        return parse_listing(text, mlsd, self._trace)

    async def list_text(self, path: str = "") -> str:
        """The LIST output as the server wrote it (``ls -l`` or MS-DOS lines)."""
        return await self._listing_text(f"LIST {path}")

    async def names(self, path: str = "") -> list[str]:
        """NLST: names only."""
        return [line for line in listing_lines(await self._listing_text(f"NLST {path}")) if line]

    # --- transfers -------------------------------------------------------------------------

    async def download(
        self, path: str, write: Callable[[bytes], object], *, offset: int = 0,
        progress: Progress | None = None, rest: str | None = None,
        on_marker: Callable[[str, int], None] | None = None,
    ) -> int:  # fmt: skip
        """RETR ``path`` from ``offset`` (REST), handing each chunk to ``write``; bytes received.

        ``rest`` sends that REST argument instead (a MODE B server marker); in MODE B each
        marker the server embeds is given to ``on_marker`` with the bytes written before it."""
        job = Download(write, progress, on_marker)
        self._data.data_marker = job.marker_seen
        try:
            return (await self._data.run(f"RETR {path}", job, rest=rest or offset))[1]
        finally:
            self._data.data_marker = None

    async def upload(
        self, path: str, read: Callable[[int], bytes], *, offset: int = 0, append: bool = False,
        progress: Progress | None = None, rest: str | None = None,
        on_mark: MarkSeen | None = None,
    ) -> int:  # fmt: skip
        """STOR (REST ``offset`` first) or APPE ``path`` from ``read(n)`` until b""; bytes sent.

        ``offset`` is the local position ``read`` starts at; ``rest`` sends that REST argument
        instead of it (a MODE B server marker). In MODE B a restart marker (our position, in
        decimal) goes out after each ``options.marker_every`` bytes, and the server's
        ``110 MARK yyyy = mmmm`` replies are given to ``on_mark``."""
        every = self.options.marker_every if self.mode == "B" else 0
        job = Upload(read, offset, every, progress)
        verb = "APPE" if append else "STOR"
        self._data.control_mark = on_mark
        try:
            start = 0 if append else (rest or offset)
            return (await self._data.run(f"{verb} {path}", job, rest=start))[1]
        finally:
            self._data.control_mark = None
