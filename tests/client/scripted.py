"""A scripted FTP server with its files in memory: each verb can be answered by a test's hook."""

from __future__ import annotations

import posixpath
import socket
import socketserver
import threading
from collections.abc import Callable

from tests.client.fakes import _Threaded

MTIME = "20240102030405"
MLST = "MLST type*;size*;modify*;"
Hook = Callable[["Session", str], bool]  # True: the hook answered the command


class Session:
    """One control connection: what a hook needs to answer (send, data, rest, the server)."""

    def __init__(self, server: FileServer, conn: socketserver.StreamRequestHandler) -> None:
        self.server = server
        self.conn = conn
        self.rest = 0
        self.cwd = "/"
        self.listener: socket.socket | None = None

    def send(self, text: str | bytes) -> None:
        raw = text if isinstance(text, bytes) else text.encode(self.server.encoding)
        self.conn.wfile.write(raw if raw.endswith(b"\n") else raw + b"\r\n")

    def path(self, arg: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, arg)) if arg else self.cwd

    def data(self) -> socket.socket:
        """The passive data connection the client opened."""
        assert self.listener is not None, "no EPSV/PASV before the transfer"
        with self.listener:
            sock, _ = self.listener.accept()
        self.listener = None
        return sock

    def transfer(self, payload: bytes) -> None:
        """150, the bytes on the data connection, 226."""
        self.send("150 Here it comes.")
        with self.data() as sock:
            sock.sendall(payload)
        self.send("226 Done.")


class FileServer(_Threaded):
    """Serves ``files`` ({"/a.txt": b"..."}) and ``dirs``; ``hooks`` answer verbs first.

    ``greet`` replaces the 220 greeting (it may send anything, and returns False to end)."""

    def __init__(
        self,
        files: dict[str, bytes] | None = None,
        *,
        dirs: tuple[str, ...] = (),
        feat: tuple[str, ...] = ("SIZE", "UTF8", "MDTM", MLST),
        hooks: dict[str, Hook] | None = None,
        greet: Callable[[Session], bool] | None = None,
        encoding: str = "utf-8",
        max_sessions: int = 0,
    ) -> None:
        self.max_sessions = max_sessions  # more at a time get "421 Too many connections"
        self.live = 0
        self.files = dict(files or {})
        self.dirs = {"/", *dirs}
        self.mtimes: dict[str, str] = {}
        self.feat = feat
        self.hooks = hooks or {}
        self.greet = greet
        self.encoding = encoding
        self.commands: list[str] = []
        self.lock = threading.Lock()
        super().__init__()

    def count(self, verb: str) -> int:
        return sum(1 for line in self.commands if line.split(" ", 1)[0] == verb)

    def listing(self, path: str, verb: str) -> str:
        prefix = path.rstrip("/") + "/"
        lines = []
        for name in sorted({*self.dirs, *self.files}):
            if name == path or not name.startswith(prefix) or "/" in name[len(prefix) :]:
                continue
            base, size = name[len(prefix) :], len(self.files.get(name, b""))
            kind = "dir" if name in self.dirs else "file"
            when = self.mtimes.get(name, MTIME)
            if verb == "MLSD":
                lines.append(f"type={kind};size={size};modify={when}; {base}")
            elif verb == "NLST":
                lines.append(base)
            else:
                mode = "drwxr-xr-x" if kind == "dir" else "-rw-r--r--"
                lines.append(f"{mode}   1 ftp      ftp      {size:8d} Jan 02  2024 {base}")
        return "".join(line + "\r\n" for line in lines)

    def _session(self, conn: socketserver.StreamRequestHandler) -> None:
        session = Session(self, conn)
        with self.lock:
            refused = bool(self.max_sessions) and self.live >= self.max_sessions
            self.live += not refused
        if refused:
            session.send(f"421 Too many connections ({self.max_sessions}) from this IP")
            return
        try:
            self._serve(session)
        finally:
            with self.lock:
                self.live -= 1
            if session.listener is not None:  # a passive port no transfer used
                session.listener.close()

    def _serve(self, session: Session) -> None:
        conn = session.conn
        if self.greet is not None:
            if not self.greet(session):
                return
        else:
            session.send("220 Scripted file server ready.")
        while line := conn.rfile.readline():
            text = line.decode(self.encoding, "surrogateescape").rstrip("\r\n")
            with self.lock:
                self.commands.append(text)
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            hook = self.hooks.get(verb)
            if hook is not None and hook(session, arg):
                continue
            if not self._answer(session, verb, arg):
                return

    def _answer(self, s: Session, verb: str, arg: str) -> bool:
        path = s.path(arg)
        if verb == "USER":
            s.send("331 Password please.")
        elif verb == "PASS":
            s.send("230 Logged in.")
        elif verb == "FEAT":
            s.send("211-Features:\r\n" + "".join(f" {f}\r\n" for f in self.feat) + "211 End")
        elif verb in ("OPTS", "TYPE", "MODE", "NOOP"):
            s.send("200 OK.")
        elif verb == "CWD" and path in self.dirs:
            s.cwd = path
            s.send("250 OK.")
        elif verb in ("SIZE", "MDTM") and path in self.files:
            answer = len(self.files[path]) if verb == "SIZE" else self.mtimes.get(path, MTIME)
            s.send(f"213 {answer}")
        elif verb in ("EPSV", "PASV"):
            if s.listener is not None:
                s.listener.close()
            s.listener = socket.create_server(("127.0.0.1", 0))
            port = s.listener.getsockname()[1]
            if verb == "EPSV":
                s.send(f"229 Entering Extended Passive Mode (|||{port}|)")
            else:
                s.send(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
        elif verb == "REST":
            s.rest = int(arg)
            s.send(f"350 Restarting at {arg}.")
        elif verb in ("LIST", "MLSD", "NLST") and path in self.dirs:
            s.transfer(self.listing(path, verb).encode(self.encoding, "surrogateescape"))
        elif verb == "RETR" and path in self.files:
            start, s.rest = s.rest, 0
            s.transfer(self.files[path][start:])
        elif verb in ("STOR", "APPE"):
            s.send("150 Send it.")
            with s.data() as sock:
                got = b"".join(iter(lambda: sock.recv(65536), b""))
            old = self.files.get(path, b"")
            start, s.rest = (len(old) if verb == "APPE" else s.rest), 0
            self.files[path] = old[:start] + got
            s.send("226 Stored.")
        elif verb == "QUIT":
            s.send("221 Bye.")
            return False
        elif verb in ("CWD", "SIZE", "MDTM", "RETR", "LIST", "MLSD", "NLST"):
            s.send("550 No such file or directory.")
        else:
            s.send("502 Not implemented here.")
        return True
