"""Credits and quota usage: kept in the account database, so they survive restarts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pasv.accounts.policy_store import PolicyStore
from pasv.policy.credits import Usage, credit_applies, earned, files_full, quota_room
from pasv.policy.models import User
from pasv.policy.options import Messages, PolicySettings
from pasv.protocol.errors import FtpError, InsufficientCredit, QuotaExceeded
from pasv.protocol.listing import FileFacts
from pasv.server.metering import QuotaWatch
from pasv.server.shared import SharedState
from pasv.storage.base import Storage
from pasv.storage.localio import read_owner
from pasv.storage.localwrite import is_temporary


def needs_usage(settings: PolicySettings) -> bool:
    return credit_applies(settings) or bool(settings.quota_bytes or settings.quota_files)


def measure_home(root: Path, user: str) -> tuple[int, int]:
    """Bytes and files under a home directory that are ``user``'s (the first time a quota
    applies to it): all but those another user uploaded (a shared home)."""
    size = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            if is_temporary(name):
                continue  # an upload in progress is counted as its bytes arrive
            path = os.path.join(folder, name)
            try:
                found = os.lstat(path).st_size
            except OSError:
                continue
            if read_owner(path) not in (None, user):
                continue  # another user's: in that user's usage
            size += found
            files += 1
    return size, files


class UsageBook:
    """One user's credit and storage use, read and changed in single SQL statements."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store

    async def get(self, user: User, settings: PolicySettings, home: Path) -> Usage:
        found = self.store.usage(user.name)
        if found is not None:
            return found
        used, files = (0, 0)
        if settings.quota_bytes or settings.quota_files:
            used, files = await asyncio.to_thread(measure_home, home, user.name)
        return await asyncio.to_thread(
            self.store.start_usage, user.name, settings.initial_credit, used, files
        )

    # --- downloads ------------------------------------------------------------------------
    async def reserve(
        self, user: User, settings: PolicySettings, home: Path, amount: int, texts: Messages
    ) -> int:
        """Take the credit a download needs before it starts; 550 when there is not enough."""
        if not credit_applies(settings) or amount <= 0:
            return 0
        await self.get(user, settings, home)
        if not await asyncio.to_thread(self.store.reserve_credit, user.name, amount):
            raise InsufficientCredit(texts.say("insufficient_credit"))
        return amount

    async def settle(self, user: User, reserved: int, sent: int) -> None:
        """Give back what a download reserved but did not send (an aborted transfer pays for
        the bytes it got)."""
        if reserved > sent:
            await asyncio.to_thread(self.store.change_usage, user.name, credit=reserved - sent)

    # --- uploads --------------------------------------------------------------------------
    @staticmethod
    def upload_room(
        settings: PolicySettings, usage: Usage, replacing: int, new_file: bool, texts: Messages
    ) -> int | None:
        """Bytes the upload may write (None: no byte quota); 552 when no new file may be made."""
        if new_file and files_full(settings, usage):
            raise QuotaExceeded(texts.say("quota_files", limit=settings.quota_files))
        room = quota_room(settings, usage, replacing)
        if room is not None and room <= 0:
            raise QuotaExceeded(texts.say("quota"))
        return room

    async def uploaded(
        self,
        user: User,
        settings: PolicySettings,
        *,
        received: int,
        size_change: int,
        files_change: int,
        complete: bool,
    ) -> None:
        """Record an upload: storage used changes by what the file grew; credit is earned
        only by a completed upload."""
        if not needs_usage(settings):
            return
        credit = 0
        if complete and settings.ratio is not None and credit_applies(settings):
            credit = earned(settings.ratio, received)
        await asyncio.to_thread(
            self.store.change_usage,
            user.name,
            credit=credit,
            bytes_used=size_change,
            files=files_change,
        )

    async def removed(
        self, user: User, settings: PolicySettings, size: int, owner: str | None
    ) -> None:
        """A file of ``size`` bytes was deleted: it leaves the usage of the user who uploaded
        it (``owner``), or, when that is not known, of the deleter (whose home measurement
        counted it)."""
        who = owner if owner is not None else user.name if needs_usage(settings) else None
        if who is not None:
            await self.give_back(who, size)

    async def give_back(self, name: str, size: int, files: int = 1) -> None:
        """Bytes and files of ``name``'s are gone (or another user's now): they leave that
        user's usage, where one is kept."""
        if (size or files) and self.store.usage(name) is not None:
            await asyncio.to_thread(self.store.change_usage, name, bytes_used=-size, files=-files)


async def _file(fs: Storage, path: str) -> FileFacts | None:
    """The file at ``path``; None when there is none (nothing, or a directory: one made there
    while an atomic upload ran is no upload's bytes)."""
    try:
        facts = await fs.stat(path)
    except FtpError:
        return None
    return facts if facts.kind == "file" else None


def _state(facts: FileFacts | None) -> tuple[int, float] | None:
    return (facts.size, facts.mtime) if facts is not None else None


class UploadPlan:
    """What one upload may write, and what to record when it ends.

    Usage follows who uploaded the bytes: a file another user uploaded (``previous``) stays
    that user's while this upload leaves it as it was; once this upload changed it, the file is
    this user's (all of it) and leaves the other's usage."""

    __slots__ = (
        "before",
        "book",
        "counted",
        "fs",
        "owners",
        "path",
        "previous",
        "settings",
        "user",
        "watches",
    )

    def __init__(
        self,
        book: UsageBook,
        fs: Storage,
        user: User,
        settings: PolicySettings,
        path: str,
        before: FileFacts | None,
        previous: str | None,
        watches: tuple[QuotaWatch | None, QuotaWatch | None],
        owners: bool,
    ) -> None:
        self.book, self.fs, self.user, self.settings = book, fs, user, settings
        self.path, self.before, self.previous, self.watches = path, before, previous, watches
        self.counted, self.owners = needs_usage(settings), owners

    @classmethod
    async def start(
        cls,
        book: UsageBook,
        shared: SharedState,
        fs: Storage,
        user: User,
        settings: PolicySettings,
        home: Path,
        texts: Messages,
        *,
        path: str,
        offset: int,
        append: bool,
        owners: bool,
    ) -> UploadPlan | None:
        """None when neither a ratio nor a quota applies (nothing to check or record) and no
        one has a quota (``owners``: files note who uploaded them)."""
        if not needs_usage(settings) and not owners:
            return None
        before = await _file(fs, path)
        previous = await fs.owner(path) if owners and before is not None else None
        theirs = previous not in (None, user.name)  # replacing it frees nothing of ours
        size = before.size if before is not None else 0
        overlap = 0 if before is None or append or theirs else max(0, size - offset)
        new_file = before is None or theirs
        # made before the usage is read: see QuotaWatch. The file count is watched the same
        # way, one new file at a time, so sessions that start together share it too.
        watch = QuotaWatch(shared, user.name, texts.say("quota")) if settings.quota_bytes else None
        limit = settings.quota_files
        slot = None
        if limit and new_file:
            slot = QuotaWatch(shared, "files\0" + user.name, texts.say("quota_files", limit=limit))
        plan = cls(book, fs, user, settings, path, before, previous, (watch, slot), owners)
        if not plan.counted:
            return plan  # no usage of this user's to check: its files only note their owner
        try:
            usage = await book.get(user, settings, home)  # read once, after the watches exist
            room = book.upload_room(settings, usage, overlap, new_file, texts)
            if watch is not None and room is not None:
                watch.arm(room)  # the user's uploads under way share the room
            if slot is not None:
                slot.arm(limit - usage.files_used)
                if not slot.add(1):  # another worker took the last one meanwhile
                    raise slot.error()
        except BaseException:
            plan.cancel()
            raise
        return plan

    @property
    def watch(self) -> QuotaWatch | None:
        """What stops the upload at the byte quota (None: no byte quota)."""
        return self.watches[0]

    def cancel(self) -> None:
        """The upload never started (its file could not be opened): nothing to record."""
        for held in self.watches:
            if held is not None:
                held.close()

    @property
    def drop_partial(self) -> bool:
        """The quota stopped this upload, and what arrived is not to be kept."""
        return (
            self.watch is not None and self.watch.exceeded and not self.settings.quota_keep_partial
        )

    async def finish(self, received: int, complete: bool) -> None:
        """Record the change in storage used and the credit earned, once the upload's handle
        is closed (an upload stopped by the quota was taken back by ``close(discard=True)``:
        cut back to what it kept of the file, or removed)."""
        change = files = 0
        try:
            after = await _file(self.fs, self.path)
            size = after.size if after is not None else 0
            was = self.before.size if self.before is not None else 0
            changed = _state(after) != _state(self.before)  # an atomic upload that failed: not
            dropped = self.drop_partial
            previous = self.previous
            if previous is None or previous == self.user.name:  # ours (or nobody's known)
                change, files = size - was, int(after is not None) - int(self.before is not None)
            elif not changed:
                change, files = 0, 0  # still theirs as it was
            elif dropped:  # taken back: what is left of it stays theirs
                await self.book.give_back(previous, was - size, 1 - int(after is not None))
                change, files = 0, 0
            else:  # ours now, all of it
                await self.book.give_back(previous, was, 1)
                change, files = size, int(after is not None)
            if self.counted:
                await self.book.uploaded(
                    self.user,
                    self.settings,
                    received=received,
                    size_change=change,
                    files_change=files,
                    complete=complete,
                )
            else:
                change = files = 0
            if self.owners and after is not None and changed and not dropped:
                await self.fs.set_owner(self.path, self.user.name)
        finally:  # recorded first, then out of the flight: never missed by the others' watches
            watch, slot = self.watches
            if watch is not None:
                watch.close(change)
            if slot is not None:
                slot.close(files)
