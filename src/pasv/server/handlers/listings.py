"""LIST, NLST, MLSD, MLST and STAT: directory listings, on the data or the control connection."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Hashable

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import NotADirectory, PathNotFound
from pasv.protocol.listing import FileFacts, format_list_line, format_mlsx_facts
from pasv.protocol.patterns import is_pattern, name_matcher
from pasv.protocol.replies import Reply, make_reply
from pasv.server import datalayers, modetransfers, transfers
from pasv.server.handlers import command
from pasv.server.handlers.transfer import run_transfer
from pasv.server.language import say
from pasv.server.listcache import signature
from pasv.server.session import Counters, Session
from pasv.server.transfers import Transfer

log = logging.getLogger("pasv.session")
_MODE_NAMES = {"S": "Stream", "Z": "Deflate", "B": "Block"}
_LS_FLAGS = re.compile(r"^-[A-Za-z1]+$")


_DIR_LETTERS = (
    ("l", Perm.LIST), ("c", Perm.STOR), ("m", Perm.MKD), ("p", Perm.DELE), ("d", Perm.RMD),
    ("f", Perm.RENAME),
)  # fmt: skip
_FILE_LETTERS = (
    ("r", Perm.RETR), ("w", Perm.STOR), ("a", Perm.APPE), ("d", Perm.DELE), ("f", Perm.RENAME),
)  # fmt: skip


@functools.lru_cache(maxsize=512)
def mlsx_perm(is_dir: bool, perms: Perm, enter: bool) -> str:
    """RFC 3659 perm fact of an entry where the user has ``perms`` (and may CWD: ``enter``)."""
    if is_dir:
        return ("e" if enter else "") + "".join(c for c, p in _DIR_LETTERS if p in perms)
    return "".join(c for c, p in _FILE_LETTERS if p in perms)


async def _split_flags(s: Session, arg: str) -> str:
    """Drop ``ls`` options such as ``-la`` before the path, unless a file of that name exists."""
    words = arg.split(" ")
    while words and _LS_FLAGS.match(words[0]):
        try:
            await s.fs.stat(s.resolve(words[0]))
            break  # a real entry named like an option
        except PathNotFound:
            words.pop(0)
    return " ".join(words)


Render = Callable[[list[FileFacts]], str]


async def _listing_data(
    s: Session,
    arg: str,
    verb: str,
    render: Render,
    on_file: Render | None,
    variant: object = None,
    *,
    matching: bool = True,
) -> tuple[str, bytes]:
    """The listing of a directory (from the listing cache when it is unchanged), or of a file;
    with ``matching``, of the entries a pattern in the last part of ``arg`` names."""
    path = s.resolve(arg)
    s.check(Perm.LIST, path)
    server = s.server
    counter = server.changes.value  # read before looking, so a write meanwhile invalidates
    try:
        facts = await s.fs.stat(path)
    except PathNotFound:
        pattern = paths.basename(path)
        if not matching or not is_pattern(pattern):
            raise
        return path, await _matches(s, arg, path, pattern, render)
    if facts.kind != "dir":
        if on_file is None:
            raise NotADirectory(say("listings.path_is_not_a", path=path))
        return path, encoded(s, on_file([facts]), path)
    assert s.user is not None
    visible = s.access.entry_filter(path)
    # a filtered listing is the user's own: the cache key says whose, under which policy
    who = None if visible is None else (s.user.name, s.user.anonymous, s.access.serial)
    key = (s.fs, path, verb, variant, who, s.charset)
    sig = signature(facts)
    cached = None if server.uploads else server.listings.get(key, sig)
    if cached is not None:
        return path, cached
    entries, linked = s.listed(await s.fs.listdir(path), path)
    if visible is not None:
        entries = [entry for entry in entries if visible(entry.name)]
    data = encoded(s, render(entries), path)
    if not linked:  # which symbolic links a listing shows depends on the user: not shared
        server.listings.put(key, sig, counter, data)
    return path, data


async def _matches(s: Session, arg: str, path: str, pattern: str, render: Render) -> bytes:
    """The entries of one directory whose names match ``pattern`` (``*``, ``?``, ``[…]``, as a
    shell matches them: a leading dot only by a pattern that starts with one), for ``mget *.csv``
    in the clients that send NLST with a pattern. Only the last part of a path is a pattern;
    NLST names keep the directory as the client wrote it, so each one can be fetched."""
    directory = paths.parent(path)
    s.check(Perm.LIST, directory)
    entries, _ = s.listed(await s.fs.listdir(directory), directory)  # errors as for LIST
    visible = s.access.entry_filter(directory)
    matches = name_matcher(pattern)
    chosen = [
        entry
        for entry in entries
        if matches(entry.name) and (visible is None or visible(entry.name))
    ]
    if not chosen:
        raise PathNotFound(say("listings.no_match", pattern=pattern, path=directory))
    if render is _names and "/" in arg:
        prefix = arg.rpartition("/")[0] + "/"
        chosen = [dataclasses.replace(entry, name=prefix + entry.name) for entry in chosen]
    return encoded(s, render(chosen), directory)


def encoded(s: Session, text: str, path: str) -> bytes:
    """A listing in the session's encoding; a name it cannot say there (legacy_encoding "gbk"
    has no emoji) shows "?" for each such character, and is logged."""
    charset = s.charset
    try:
        return text.encode(charset, "surrogateescape")
    except UnicodeEncodeError:
        log.info("[%d] listing of %s: names not in %s shown with '?'", s.id, path, charset)
        return text.encode(charset, "replace")


def _list_lines(entries: list[FileFacts]) -> str:
    now = time.time()
    return "".join(format_list_line(f, now) + "\r\n" for f in entries)


def _names(entries: list[FileFacts]) -> str:
    return "".join(f.name + "\r\n" for f in entries)


async def _listing(s: Session, verb: str, path: str, data: bytes) -> Reply:
    async def body(sock: socket.socket, transfer: Transfer) -> None:
        if s.options.mode != "S":
            stack = datalayers.build(sock, s.options.mode, ascii_mode=False, level=s.deflate_level)
            await modetransfers.send_bytes(stack, data, transfer)
        else:
            await transfers.send_bytes(sock, data, transfer)

    opening = say("listings.opening", type=s.type_name, verb=verb, path=path)
    return await run_transfer(
        s,
        verb=verb,
        path=path,
        direction="o",
        total=len(data),
        opening=opening,
        body=body,
        log_transfer=False,
        done_text=say("listings.complete", verb=verb),
    )


@command("LIST")
async def list_(s: Session, arg: str) -> Reply:
    arg = await _split_flags(s, arg)
    path, data = await _listing_data(s, arg, "LIST", _list_lines, _list_lines)
    return await _listing(s, "LIST", path, data)


@command("NLST")
async def nlst(s: Session, arg: str) -> Reply:
    arg = await _split_flags(s, arg)
    path, data = await _listing_data(s, arg, "NLST", _names, lambda _: arg + "\r\n")
    return await _listing(s, "NLST", path, data)


@command("MLSD")
async def mlsd(s: Session, arg: str) -> Reply:
    wanted = s.options.mlst_facts
    directory = s.resolve(arg)
    rights = s.access.entry_rights(directory)

    def render(entries: list[FileFacts]) -> str:
        lines = []
        for f in entries:
            is_dir = f.kind == "dir"
            perm = mlsx_perm(is_dir, *rights(f.name, is_dir))
            lines.append(format_mlsx_facts(f, perm, wanted) + "\r\n")
        return "".join(lines)

    path, data = await _listing_data(
        s, arg, "MLSD", render, None, (wanted, _rights_key(s, directory)), matching=False
    )
    return await _listing(s, "MLSD", path, data)


def _rights_key(s: Session, directory: str) -> Hashable:
    """What MLSD's perm facts depend on, for the listing cache: the user's permissions at the
    directory when no rule below it can differ (shared by every user with the same), else whose
    rules under which policy."""
    access = s.access
    if not access.may_differ_below(directory):
        return access.rights(directory)
    user = access.user
    return (access.serial, user.name, user.anonymous, user.groups, user.perms)


@command("MLST")
async def mlst(s: Session, arg: str) -> Reply:
    path = s.resolve(arg)
    s.check(Perm.LIST, path)
    facts = await s.fs.stat(path)
    perm = mlsx_perm(facts.kind == "dir", *s.access.rights(path))
    line = format_mlsx_facts(facts, perm, s.options.mlst_facts)
    facts_part = line.split(" ", 1)[0]
    return make_reply(ReplyCode.FILE_ACTION_OK, f"Listing {path}\n {facts_part} {path}\nEnd")


@command("STAT")
async def stat(s: Session, arg: str) -> Reply:
    if s.transfer is not None:
        return make_reply(ReplyCode.FILE_STATUS, f"Status: {s.transfer.status()}")
    if not arg.strip():
        return make_reply(ReplyCode.SYSTEM_STATUS, _session_status(s))
    if s.user is None:
        return make_reply(ReplyCode.NOT_LOGGED_IN, "Please log in with USER and PASS first.")
    arg = await _split_flags(s, arg)
    path, data = await _listing_data(s, arg, "LIST", _list_lines, _list_lines)
    lines = [
        f"Status of {path}:",
        *data.decode(s.charset, "surrogateescape").splitlines(),
        "End of status.",
    ]
    return make_reply(ReplyCode.FILE_STATUS, "\n".join(lines))


def _session_status(s: Session) -> str:
    c = s.counters or Counters()  # nothing moved yet
    data = s.data.description if s.data is not None else "none"
    via = f" (via load balancer {s.options.via})" if s.options.via is not None else ""
    lines = [
        "pasv FTP server status:",
        f" Connected to {s.local_ip} port {s.local_port} from {s.peer_ip} port {s.peer_port}{via}",
        f" Served by process {os.getpid()}",
        f" Logged in as {s.user.name}" if s.user else " Not logged in",
        f" TYPE: {s.type_name}, STRUcture: File, MODE: {_MODE_NAMES[s.options.mode]}",
        f" File names: {s.charset.upper()}",
        f" Working directory: {s.cwd}",
        f" Data connection: {data}",
        f" {s.commands} commands, {c.files_in} files ({c.bytes_in} bytes) uploaded, "
        f"{c.files_out} files ({c.bytes_out} bytes) downloaded",
        "End of status.",
    ]
    return "\n".join(lines)
