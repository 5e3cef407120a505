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
from pasv.server.metering import QuotaWatch
from pasv.server.shared import SharedState
from pasv.storage.base import Storage
from pasv.storage.localwrite import is_temporary


def needs_usage(settings: PolicySettings) -> bool:
    return credit_applies(settings) or bool(settings.quota_bytes or settings.quota_files)


def measure_home(root: Path) -> tuple[int, int]:
    """Bytes and files under a home directory (the first time a quota applies to it)."""
    size = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            if is_temporary(name):
                continue  # an upload in progress is counted as its bytes arrive
            try:
                size += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
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
            used, files = await asyncio.to_thread(measure_home, home)
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
    async def upload_room(
        self,
        user: User,
        settings: PolicySettings,
        home: Path,
        replacing: int,
        new_file: bool,
        texts: Messages,
    ) -> int | None:
        """Bytes the upload may write (None: no byte quota); 552 when no new file may be made."""
        if not needs_usage(settings):
            return None
        usage = await self.get(user, settings, home)
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

    async def removed(self, user: User, settings: PolicySettings, size: int) -> None:
        if needs_usage(settings) and self.store.usage(user.name) is not None:
            await asyncio.to_thread(self.store.change_usage, user.name, bytes_used=-size, files=-1)


async def _file_size(fs: Storage, path: str) -> int | None:
    """The size of the file at ``path``; None when there is none (nothing, or a directory: one
    made there while an atomic upload ran is no upload's bytes)."""
    try:
        facts = await fs.stat(path)
    except FtpError:
        return None
    return facts.size if facts.kind == "file" else None


class UploadPlan:
    """What one upload may write, and what to record when it ends."""

    __slots__ = ("before", "book", "fs", "path", "settings", "user", "watch")

    def __init__(
        self,
        book: UsageBook,
        fs: Storage,
        user: User,
        settings: PolicySettings,
        path: str,
        before: int | None,
        watch: QuotaWatch | None,
    ) -> None:
        self.book, self.fs, self.user, self.settings = book, fs, user, settings
        self.path, self.before, self.watch = path, before, watch

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
    ) -> UploadPlan | None:
        """None when neither a ratio nor a quota applies (nothing to check or record)."""
        if not needs_usage(settings):
            return None
        before = await _file_size(fs, path)
        overlap = 0 if before is None or append else max(0, before - offset)
        # made before the usage is read: see QuotaWatch
        watch = QuotaWatch(shared, user.name, texts.say("quota")) if settings.quota_bytes else None
        try:
            room = await book.upload_room(user, settings, home, overlap, before is None, texts)
            if watch is not None and room is not None:
                watch.arm(room)  # the user's uploads under way share the room
        except BaseException:
            if watch is not None:
                watch.close()
            raise
        return cls(book, fs, user, settings, path, before, watch)

    def cancel(self) -> None:
        """The upload never started (its file could not be opened): nothing to record."""
        if self.watch is not None:
            self.watch.close()

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
        change = 0
        try:
            after = await _file_size(self.fs, self.path)
            await self.book.uploaded(
                self.user,
                self.settings,
                received=received,
                size_change=(after or 0) - (self.before or 0),
                files_change=int(after is not None) - int(self.before is not None),
                complete=complete,
            )
            change = (after or 0) - (self.before or 0)
        finally:  # recorded first, then out of the flight: never missed by the others' watches
            if self.watch is not None:
                self.watch.close(change)
