"""Per-connection state: who is logged in, where they are, and what the next transfer uses."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import itertools
import logging
import ssl
import time
from collections.abc import Hashable
from pathlib import Path
from typing import TYPE_CHECKING

from pasv.policy.access import Access
from pasv.policy.models import Perm, User
from pasv.policy.options import PolicySettings
from pasv.protocol import paths
from pasv.protocol.errors import FileBusy, NameNotAllowed, PermissionDenied
from pasv.protocol.listing import ALL_MLST_FACTS, FileFacts
from pasv.server.language import say
from pasv.server.links import SessionLinks
from pasv.storage.links import LINKS

if TYPE_CHECKING:
    from pasv.server.app import FtpServer
    from pasv.server.control import ControlProtocol
    from pasv.server.datachannel import DataChannel
    from pasv.server.transfers import Transfer
    from pasv.server.vhosts import VirtualHost
    from pasv.storage.base import Storage

log = logging.getLogger("pasv.session")
_ids = itertools.count(1)
_SHARED_LOCAL_ADDRESSES = 1024
_UPLOADS_KEPT = 1024  # a session's own uploads it may rename where it may STOR


@dataclasses.dataclass(slots=True)
class Counters:
    """What a session has moved, for STAT (made by its first transfer)."""

    files_in: int = 0
    files_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class SessionOptions:
    """What most sessions never change. Sessions on the defaults share one object, and a
    change replaces the session's (``Session.use_options``): an idle session holds one
    reference where it held eight values."""

    via: str | None = None  # the balancer this connection came through (PROXY header)
    # the virtual host TLS was set up for (SNI, or HOST before AUTH): HOST cannot change it
    tls_host: VirtualHost | None = None
    # what the client's lines are read in, its own (replies', listings') first; None: the
    # server's (ServerSection.charsets); set by OPTS UTF8 and a line in the legacy encoding
    charsets: tuple[str, ...] | None = None
    # REIN forgets the ones below (the TLS host and the balancer stay)
    allocated: int | None = None  # ALLO's size, for the next upload
    epsv_all: bool = False
    mlst_facts: frozenset[str] = ALL_MLST_FACTS
    hash_algorithm: str = "SHA-256"
    mode: str = "S"  # MODE: S stream, Z deflate, B block
    mode_level: int | None = None  # OPTS MODE Z LEVEL; None: the server's deflate_level


DEFAULT_OPTIONS = SessionOptions()


class Session:
    """The state one control connection carries between commands."""

    __slots__ = (
        "aborted_unbegun",
        "announced",
        "ascii",
        "commands",
        "control",
        "counted",
        "counters",
        "cwd",
        "data",
        "failures",
        "finished",
        "host",
        "id",
        "lang",
        "last_command",
        "links",
        "local",
        "login_name",
        "options",
        "pbsz",
        "peer_ip",
        "peer_port",
        "pending_user",
        "policy_view",
        "protected",
        "rename_from",
        "rest",
        "server",
        "started",
        "storage",
        "tls",
        "transfer",
        "uploads",
        "user",
    )

    def __init__(
        self,
        server: FtpServer,
        control: ControlProtocol,
        peer: tuple[str, int],
    ) -> None:
        self.server = server
        self.control = control
        self.id = next(_ids)
        self.peer_ip, self.peer_port = _unmap(peer[0]), peer[1]
        self.local: tuple[str, int] | None = None  # asked of the socket when first needed
        self.started = time.time()
        self.last_command: object = None  # the Command (or parse error) received last
        self.login_name = ""  # the name the last PASS was for (the session log)
        self.failures = 0
        # a complete transfer (direction, path, bytes, seconds) whose event waits for its 226
        self.finished: tuple[str, str, int, float] | None = None
        self.commands = 0  # received, for STAT
        self.counters: Counters | None = None  # files and bytes moved, from the first transfer
        self.options = DEFAULT_OPTIONS
        self.data: DataChannel | None = None
        self.transfer: Transfer | None = None
        # the shared session counters this login added to (a tuple: the empty one is shared)
        self.counted: tuple[int, ...] = ()
        self.aborted_unbegun = False  # a transfer the waiting ABOR stopped before it began
        self.policy_view: Access | None = None  # built under the policy its serial names
        self.links: SessionLinks | None = None  # the storage's symbolic-link check, once needed
        # TLS state survives REIN (the control connection cannot drop TLS)
        self.tls: ssl.SSLContext | None = None  # the context of this control connection's TLS
        self.pbsz = False
        self.protected = False  # PROT P: data connections use TLS
        self.reset()

    def reset(self) -> None:
        """Back to the state of a fresh connection (REIN), keeping the counters."""
        if self.counted:
            self.server.gate.logout(self)
        kept = self.options
        if kept is not DEFAULT_OPTIONS:
            self.use_options(
                SessionOptions(via=kept.via, tls_host=kept.tls_host, charsets=kept.charsets)
            )
        self.user: User | None = None
        self.storage: Storage | None = None
        # RFC 7151: REIN forgets HOST (the host TLS was set up for stays)
        self.host: VirtualHost | None = self.options.tls_host or self.server.hosts.default
        self.pending_user: str | None = None
        self.cwd = "/"
        self.ascii = False
        self.rest = 0
        self.rename_from: str | None = None
        # path -> the file's identity when this login's upload of it ended (``own_upload``)
        self.uploads: dict[str, Hashable] | None = None
        self.announced = ""  # the last 227/229 reply sent, for SITE PASVINFO
        self.lang = self.server.language  # LANG (RFC 2640); REIN returns to the default
        self.close_data()
        self.control.restart_login_timer()

    def use_options(self, options: SessionOptions) -> None:
        """Change the session's options (a ``dataclasses.replace`` of them); options equal to
        the defaults are the shared object again."""
        self.options = DEFAULT_OPTIONS if options == DEFAULT_OPTIONS else options

    @property
    def charsets(self) -> tuple[str, ...]:
        """The encodings this session's lines are read in, its own first."""
        return self.options.charsets or self.server.charsets

    @property
    def charset(self) -> str:
        """The encoding of this session's replies and listings (UTF-8 unless it speaks the
        server's legacy_encoding)."""
        return self.charsets[0]

    def speak(self, charsets: tuple[str, ...]) -> None:
        """From now on read lines in ``charsets`` and answer in the first."""
        self.use_options(dataclasses.replace(self.options, charsets=charsets))

    def heard(self, charset: str) -> None:
        """A line came in another of the session's encodings than its own: a legacy one makes
        it the session's (a UTF-8 line from a session served in legacy_encoding changes
        nothing)."""
        if charset != "utf-8":
            log.info("[%d] %s sends %s, not UTF-8: answered in it", self.id, self.peer_ip, charset)
            self.speak((charset, "utf-8"))

    # --- helpers used by handlers ---------------------------------------------------------
    @property
    def fs(self) -> Storage:
        assert self.storage is not None, "handlers that need storage require login"
        return self.storage

    @property
    def deflate_level(self) -> int:
        """The compression level of MODE Z: the session's OPTS MODE Z LEVEL, or the server's."""
        level = self.options.mode_level
        return self.server.settings.modes.deflate_level if level is None else level

    @property
    def local_ip(self) -> str:
        """The server address the client connected to (PASV, EPSV and STAT need it)."""
        return self._local()[0]

    @property
    def local_port(self) -> int:
        return self._local()[1]

    def _local(self) -> tuple[str, int]:
        local = self.local
        if local is None:
            name = self.control.transport.get_extra_info("sockname")
            local = (_unmap(name[0]), name[1])
            # one tuple per address the server is reached at, shared by its sessions (a
            # machine that answers on a whole network's addresses shares only the first ones)
            known = self.server.local_addresses
            if len(known) < _SHARED_LOCAL_ADDRESSES:
                local = known.setdefault(local, local)
            self.local = local
        return local

    @property
    def settings(self) -> PolicySettings:
        """The policy settings that apply now: the user's, or the server's before login."""
        if self.user is None:
            return self.server.gate.policy.server
        return self.access.settings

    @property
    def access(self) -> Access:
        """The logged-in user's access under the current policy (kept until it changes)."""
        policy = self.server.gate.policy
        view = self.policy_view
        if view is None or view.serial != policy.serial or view.user is not self.user:
            assert self.user is not None, "access checks need a login"
            view = self.policy_view = policy.access(self.user)
        return view

    def resolve(self, arg: str) -> str:
        """The absolute virtual path an argument names, relative to the working directory;
        a path through a hidden name does not exist (550). From here on in this command, a
        symbolic link the storage finds on a path is checked by this session (``links``)."""
        path = paths.resolve(self.cwd, arg)
        if self.user is not None:
            self.access.check_reachable(path)
            self.guard_links()
        return path

    def guard_links(self) -> None:
        """Give the storage this session's link check for the command running now (a context
        variable of the command's task: a task copies it, a worker thread gets it)."""
        links = self.links
        if links is None:
            links = self.links = SessionLinks(self)
        if LINKS.get() is not links and asyncio.current_task() is not None:
            LINKS.set(links)

    def listed(self, entries: list[FileFacts], directory: str) -> tuple[list[FileFacts], bool]:
        """A listing's entries as this user may see them (``SessionLinks.listed``)."""
        if self.links is None:
            self.guard_links()
        assert self.links is not None
        return self.links.listed(entries, directory)

    def check(self, perm: Perm, path: str) -> None:
        """Refuse (550) when the rules deny ``perm`` at ``path`` or a hidden name is in it."""
        if self.user is None:
            raise PermissionDenied(say("session.permission_denied_at_path", path=path))
        self.access.check(perm, path)

    def check_new_name(self, path: str) -> None:
        """Refuse (553) a forbidden name for something new: an upload, directory, rename;
        and a name with a line break, which no listing line or command could name again."""
        if "\r" in path or "\n" in path:
            raise NameNotAllowed(say("session.name_with_line_break"))
        self.access.check_name(path)

    def uploaded(self, path: str, identity: Hashable) -> None:
        """This session has just uploaded the file at ``path`` (``identity``: its storage facts
        then): its bytes are the session's own (``Access.check_rename``). Only the session's,
        and only until REIN or the end of the connection; the oldest of too many is forgotten."""
        uploads = self.uploads
        if uploads is None:
            uploads = self.uploads = {}
        uploads.pop(path, None)
        if len(uploads) >= _UPLOADS_KEPT:
            del uploads[next(iter(uploads))]
        uploads[path] = identity

    def own_upload(self, path: str, identity: Hashable) -> bool:
        """The file at ``path`` is still the one this session uploaded there."""
        uploads = self.uploads
        return uploads is not None and uploads.get(path) == identity

    def take_rest(self) -> int:
        offset, self.rest = self.rest, 0
        return offset

    def take_allocated(self) -> int | None:
        size = self.options.allocated
        if size is not None:
            self.use_options(dataclasses.replace(self.options, allocated=None))
        return size

    def busy(self, path: str) -> FileBusy:
        """The 450 for a file another session is uploading."""
        return FileBusy(self.access.messages.say("file_busy", name=paths.basename(path)))

    async def refuse_if_uploading(self, path: str) -> None:
        """450 when another session, on this node or another, is uploading the file at
        ``path`` (451 while a cluster's database cannot be asked)."""
        in_use = self.server.in_use
        if in_use.any() and in_use.uploading(self.fs.identity(path)):
            raise self.busy(path)
        cluster = self.server.cluster
        if cluster is not None:
            await cluster.refuse_if_uploading(self.fs.identity(path), self.busy(path))

    async def refuse_if_uploading_into(self, path: str) -> None:
        """450 when a file directly in the directory ``path`` is being uploaded, here or on
        another node (451 while a cluster's database cannot be asked)."""
        in_use = self.server.in_use
        busy = FileBusy(self.access.messages.say("directory_busy", name=paths.basename(path)))
        if in_use.any():
            if in_use.uploading(self.fs.identity(path)):
                raise self.busy(path)
            if in_use.uploading_into(self.fs.identity(path)):
                raise busy
        cluster = self.server.cluster
        if cluster is not None:
            await cluster.refuse_if_uploading(self.fs.identity(path), busy, into=True)

    def behind(self, balancer: str, client: tuple[str, int]) -> None:
        """The PROXY header named the client: policy, limits, bans and the data-connection
        checks see ``client`` from now on, not the balancer."""
        self.use_options(dataclasses.replace(self.options, via=balancer))
        address = ipaddress.ip_address(client[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        self.peer_ip, self.peer_port = str(address), client[1]

    def close_data(self) -> None:
        if self.data is not None:
            self.data.close()
            self.data = None

    @property
    def home(self) -> Path:
        """The logged-in user's home folder on disk (on this session's virtual host)."""
        assert self.user is not None, "a home needs a login"
        return self.server.home_of(self.user, self.host)

    @property
    def type_name(self) -> str:
        return "ASCII" if self.ascii else "BINARY"

    @property
    def who(self) -> str:
        return self.user.name if self.user else "-"


def _unmap(ip: str) -> str:
    """``::ffff:1.2.3.4`` -> ``1.2.3.4`` so IPv4 clients on a dual-stack socket look like IPv4."""
    if ip.startswith("::ffff:") and "." in ip:
        return ip[7:]
    return ip.split("%", 1)[0]
