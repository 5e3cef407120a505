"""Least privilege: started as root, serve as an unprivileged user that owns the data directory."""

from __future__ import annotations

import contextlib
import grp
import importlib
import logging
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from pasv.config import Settings
from pasv.server import xferlog
from pasv.storage.local import HELD_PREFIX

log = logging.getLogger("pasv.server")

DEFAULT_USERS = ("pasv", "nobody")  # the documented system user, else the classic fallback
# What the standard library imports on first use (MFMT's strptime, a PORT connection's host name
# codec): after the switch the interpreter's own files may be out of reach (Python installed
# under a mode-0700 home, as pyenv does in /root), so they are imported before it.
_FIRST_USE = ("_strptime", "encodings.idna")


class PrivilegeError(Exception):
    """pasv will not serve as it was asked to; the text says why and what to do."""


@dataclass(frozen=True, slots=True)
class Account:
    """The unprivileged user and group every worker serves as."""

    user: str
    uid: int
    group: str
    gid: int


def serving_account(settings: Settings) -> Account | None:
    """Whom to switch to; None when there is nothing to drop (not root, or --allow-root)."""
    cfg = settings.server
    if os.geteuid() != 0 or cfg.allow_root:
        return None
    names = (cfg.user,) if cfg.user else DEFAULT_USERS
    entry = None
    for name in names:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            break
    if entry is None:
        wanted = repr(cfg.user) if cfg.user else "'pasv' or 'nobody'"
        raise PrivilegeError(
            f"started as root, pasv switches to an unprivileged user before it serves a client, "
            f"but there is no user {wanted}. Create one (useradd --system --no-create-home "
            f"--shell /usr/sbin/nologin pasv), set server.user, or pass --allow-root to serve "
            f"as root (not recommended: a flaw in pasv would then give away the whole host)."
        )
    if entry.pw_uid == 0:
        raise PrivilegeError(
            f"server.user {entry.pw_name!r} is root; choose an unprivileged user, or pass "
            f"--allow-root to serve as root (not recommended)."
        )
    gid, group = entry.pw_gid, _group_name(entry.pw_gid)
    if cfg.group:
        try:
            found = grp.getgrnam(cfg.group)
        except KeyError:
            raise PrivilegeError(f"server.group: there is no group {cfg.group!r}") from None
        gid, group = found.gr_gid, found.gr_name
    if gid == 0:
        raise PrivilegeError("server.group is root's group; choose an unprivileged group.")
    return Account(entry.pw_name, entry.pw_uid, group, gid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def hand_over(settings: Settings, account: Account) -> None:
    """Give the serving user what pasv itself keeps in the data directory (not the TLS key:
    that is read while still root). Entries are changed themselves, never a symlink's target."""
    data = settings.server.data_dir
    db = settings.accounts_db
    entries = [data, settings.files_root, db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    made = [settings.session_log_path] if settings.admin.enabled else []
    if settings.admin.enabled and settings.admin.audit_log is None:  # the API appends to it
        made.append(settings.audit_log_path)
    if settings.logging.xferlog is None:
        made.append(settings.xferlog_path)
    for log_file in made:  # made now, so that they are the serving user's too (the admin API
        os.close(os.open(log_file, xferlog.OPEN_FLAGS, 0o640))  # reads them back as that user)
        entries.append(log_file)
    if settings.anonymous.root is None:
        entries.append(settings.anonymous_root)
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            os.chown(entry, account.uid, account.gid, follow_symlinks=False)


def real_accounts_db(settings: Settings) -> Path:
    """The account database by its host path, symbolic links above it resolved (so that
    SQLite's ``nofollow`` refuses only a link planted in the data directory itself)."""
    return Path(os.path.realpath(settings.server.data_dir)) / settings.accounts_db.name


def reachable(path: Path, account: Account) -> bool:
    """Whether ``account`` may walk to ``path`` and write there (checked with its ids, for a
    moment, while root is still the saved user id)."""
    os.setgroups([])
    os.setegid(account.gid)
    os.seteuid(account.uid)
    try:
        return os.access(path, os.R_OK | os.W_OK | os.X_OK, effective_ids=True)
    finally:
        os.seteuid(0)
        os.setegid(0)


def hold(settings: Settings, account: Account) -> Settings:
    """Settings whose data directory the worker can still reach after the switch: its own path
    when the serving user may walk there, else a descriptor opened now (``/proc/self/fd/N``)."""
    data = settings.server.data_dir
    if reachable(data.absolute(), account):  # as the jail will see it, from the host's root
        return settings
    fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    log.info("the data directory %s is held open: user %s cannot walk to it", data, account.user)
    held = Path(f"{HELD_PREFIX}{fd}")
    server = settings.server.model_copy(update={"data_dir": held})
    return settings.model_copy(update={"server": server})


def drop(account: Account) -> None:
    """Switch real, effective and saved ids for good, with no supplementary groups left."""
    for name in _FIRST_USE:
        importlib.import_module(name)
    os.setgroups([])
    os.setresgid(account.gid, account.gid, account.gid)
    os.setresuid(account.uid, account.uid, account.uid)
    if os.getresuid() != (account.uid,) * 3 or os.getresgid() != (account.gid,) * 3:
        raise PrivilegeError("the switch to the unprivileged user did not take")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise PrivilegeError("root could be regained after the switch; refusing to serve")
