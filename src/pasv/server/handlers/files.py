"""CWD, CDUP, PWD, MKD, RMD, DELE, RNFR/RNTO, SIZE, MDTM, MFMT and HASH: the file system."""

from __future__ import annotations

import calendar
import re
import time

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    AlreadyExists,
    ArgumentError,
    FileBusy,
    FileUnavailable,
    NotADirectory,
    NotImplementedCommand,
    PathNotFound,
)
from pasv.protocol.listing import FileFacts, format_timeval
from pasv.protocol.replies import Reply, make_reply
from pasv.server.handlers import command
from pasv.server.language import say
from pasv.server.session import Session
from pasv.server.usage import needs_usage


def quote_path(path: str) -> str:
    """RFC 959 quoting for 257 replies: the path in quotes, inner quotes doubled."""
    return '"' + path.replace('"', '""') + '"'


# RNTO onto a name another session keeps making and removing: given up after this many moves
_RENAME_TRIES = 3

# RFC 3659 time-val: 14 ASCII digits, a fraction allowed (and ignored)
_TIME_VAL = re.compile(r"[0-9]{14}(?:\.[0-9]{1,9})?", re.ASCII)


def parse_time(text: str) -> float:
    """A time-val in UTC. Exactly 14 digits: strptime alone also takes '2024010100000' (13)
    and the leap seconds 60 and 61, which timegm rolls over into the next minute."""
    try:
        if not _TIME_VAL.fullmatch(text):
            raise ValueError(text)
        parsed = time.strptime(text[:14], "%Y%m%d%H%M%S")
        if parsed.tm_sec > 59:
            raise ValueError(text)
    except ValueError:
        raise ArgumentError(say("files.bad_time_v_r", v1=text[:20])) from None
    return float(calendar.timegm(parsed))


@command("PWD")
def pwd(s: Session, arg: str) -> Reply:
    return make_reply(ReplyCode.PATH_CREATED, say("files.pwd", path=quote_path(s.cwd)))


@command("CWD")
async def cwd(s: Session, arg: str) -> Reply:
    return await _change_dir(s, arg)


@command("CDUP")
async def cdup(s: Session, arg: str) -> Reply:
    return await _change_dir(s, "..")


async def _change_dir(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.access.check_enter(target)  # before the storage: its answer would tell what is there
    facts = await s.fs.stat(target)
    if facts.kind != "dir":
        if not s.access.decide(Perm.LIST, paths.parent(target)).allowed:
            raise PathNotFound()  # a drop box's uploads are not told apart from missing names
        raise NotADirectory(say("files.not_a_directory_target", target=target))
    s.cwd = target
    return make_reply(ReplyCode.FILE_ACTION_OK, say("files.cwd", path=target))


@command("MKD")
async def mkd(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.MKD, target)
    s.check_new_name(target)
    # an upload of that name not yet in place (atomic, S3) could not be put there after: 450.
    # The name is held while the directory is made, so no upload starts under it meanwhile.
    identity = s.fs.identity(target)
    claim = s.server.in_use.claim(identity)
    if claim is None:
        raise s.busy(target)
    try:
        if s.server.cluster is not None:  # uploaded on another node
            await s.server.cluster.refuse_if_uploading(identity, s.busy(target))
        await s.fs.mkdir(target)
    finally:
        claim.release()
    s.server.changed()
    return make_reply(ReplyCode.PATH_CREATED, say("files.mkd", path=quote_path(target)))


@command("RMD")
async def rmd(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.RMD, target)
    if target == "/":
        raise FileUnavailable("Refusing to remove your root directory.")
    await s.refuse_if_uploading_into(target)
    await s.fs.rmdir(target)
    s.server.changed()
    return make_reply(ReplyCode.FILE_ACTION_OK, say("files.rmd", path=target))


@command("DELE")
async def dele(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.DELE, target)
    await s.refuse_if_uploading(target)
    # the bytes leave the usage of who uploaded them (or, not known, the deleter's)
    owner = await _owner(s, target)
    counted = owner is not None or needs_usage(s.settings)
    size = (await s.fs.stat(target)).size if counted else 0
    await s.fs.delete(target)
    s.server.changed()
    if counted:
        assert s.user is not None
        await s.server.usage.removed(s.user, s.settings, size, owner)
    s.server.events.deleted(s, target)
    return make_reply(ReplyCode.FILE_ACTION_OK, say("files.dele", path=target))


@command("RNFR")
async def rnfr(s: Session, arg: str) -> Reply:
    source = s.resolve(arg)
    s.check(Perm.RENAME, source)
    await s.refuse_if_uploading(source)
    await s.fs.stat(source)
    s.rename_from = source
    return make_reply(ReplyCode.PENDING, say("files.rnfr", path=source))


@command("RNTO")
async def rnto(s: Session, arg: str) -> Reply:
    source, s.rename_from = s.rename_from, None
    assert source is not None
    target = s.resolve(arg)
    s.check(Perm.RENAME, target)
    s.check_new_name(target)
    facts = await s.fs.stat(source)
    own = s.own_upload(source, upload_identity(facts))
    s.access.check_rename(source, target, directory=facts.kind == "dir", own_upload=own)
    there, replaced = await _check_replace(s, source, target, facts)
    await s.refuse_if_uploading(source)  # an upload may have begun since RNFR
    await s.refuse_if_uploading(target)
    for _ in range(_RENAME_TRIES):
        # a replaced file's bytes leave the usage of who uploaded them, as a DELE's do
        owner = await _owner(s, target) if replaced is not None else None
        try:  # where nothing was, nothing is replaced: the store checks as it moves
            await s.fs.rename(source, target, replace=there)
            break
        except AlreadyExists:
            if there:
                raise
        # made since it was looked at (another session): judged as if it had been there
        there, replaced = await _check_replace(s, source, target, facts)
        await s.refuse_if_uploading(target)
    else:
        raise FileBusy(say("files.rnto_target_changing", target=target))
    s.server.changed()
    if replaced is not None and (owner is not None or needs_usage(s.settings)):
        assert s.user is not None
        await s.server.usage.removed(s.user, s.settings, replaced.size, owner)
    return make_reply(ReplyCode.FILE_ACTION_OK, say("files.rnto", source=source, target=target))


def upload_identity(facts: FileFacts) -> tuple[str, int, float]:
    """What tells the file an upload left from one written over it since."""
    return (facts.unique, facts.size, facts.mtime)


async def remember_upload(s: Session, path: str, reply: Reply) -> None:
    """After a complete STOR or APPE: remember the file, so that this session may rename it
    on to where the user may STOR (an upload to ``NAME.part``, then RNTO ``NAME``)."""
    if reply.code != ReplyCode.TRANSFER_COMPLETE or not s.access.remembers_uploads(path):
        return
    try:
        facts = await s.fs.stat(path)
    except FileUnavailable:
        return
    s.uploaded(path, upload_identity(facts))


async def _check_replace(
    s: Session, source: str, target: str, facts: FileFacts
) -> tuple[bool, FileFacts | None]:
    """Whether something is at ``target``, and the file a rename would replace there (None:
    nothing, a directory, or the source itself: a rename to the same name, or one that only
    changes case where the storage ignores case); refused where replacing it is not allowed."""
    if target == source:
        return True, None
    try:
        there = await s.fs.stat(target)
    except PathNotFound:
        return False, None
    if there.unique and there.unique == facts.unique:
        return True, None
    s.access.check_replace(source, target, directory=there.kind == "dir")
    return True, there if there.kind == "file" else None


async def _owner(s: Session, path: str) -> str | None:
    """Who uploaded the file at ``path``, where the policy keeps track (any quota)."""
    return await s.fs.owner(path) if s.server.gate.policy.counts_owners else None


@command("SIZE")
async def size(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.LIST, target)
    facts = await s.fs.stat(target)
    if facts.kind != "file":
        raise FileUnavailable(say("files.target_is_not_a", target=target))
    return make_reply(ReplyCode.FILE_STATUS, str(facts.size))


_SETTING_MDTM = re.compile(r"(\d{14}(?:\.\d{1,3})?) (.+)")


@command("MDTM")
async def mdtm(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.LIST, target)
    try:
        facts = await s.fs.stat(target)
    except PathNotFound:
        # "MDTM YYYYMMDDHHMMSS path" sets the time, as vsftpd and Pure-FTPd take it from the
        # clients that send it (a name that exists is asked about, not set)
        setting = _SETTING_MDTM.fullmatch(arg)
        if setting is None:
            raise
        return await _modify(s, setting[1], setting[2], "MDTM")
    return make_reply(ReplyCode.FILE_STATUS, format_timeval(facts.mtime))


async def set_mtime(
    s: Session, name: str, when: float, perm: Perm, command: str
) -> tuple[str, float]:
    """Set a file's modification time for MFMT and SITE UTIME: checked, where the storage at
    that path can (a virtual folder's storage decides); returns the path and the time stored,
    which a file system clamps to its range (ext4: 1901-2446 for 00010101000000)."""
    target = s.resolve(name)
    s.check(perm, target)
    if not s.fs.capabilities_at(target).set_mtime:
        raise NotImplementedCommand(say("files.no_mtime", command=command))
    await s.fs.set_mtime(target, when)
    s.server.changed()
    return target, (await s.fs.stat(target)).mtime


@command("MFMT")
async def mfmt(s: Session, arg: str) -> Reply:
    stamp, _, name = arg.partition(" ")
    if not name:
        raise ArgumentError("MFMT needs a time and a path: MFMT YYYYMMDDHHMMSS <path>.")
    return await _modify(s, stamp, name, "MFMT")


async def _modify(s: Session, stamp: str, name: str, command: str) -> Reply:
    """MFMT, and MDTM with a time: set ``name``'s modification time, answered as MFMT is."""
    when = parse_time(stamp)
    target, stored = await set_mtime(s, name, when, Perm.MFMT, command)
    return make_reply(ReplyCode.FILE_STATUS, f"Modify={format_timeval(stored)}; {target}")


@command("HASH")
async def hash_(s: Session, arg: str) -> Reply:
    target = s.resolve(arg)
    s.check(Perm.RETR, target)
    facts = await s.fs.stat(target)
    if facts.kind != "file":
        raise FileUnavailable(say("files.target_is_not_a_2", target=target))
    algorithm = s.options.hash_algorithm
    digest = await s.fs.digest(target, algorithm)
    return make_reply(ReplyCode.FILE_STATUS, f"{algorithm} 0-{facts.size} {digest} {target}")
