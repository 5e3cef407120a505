"""Carrying out a mirror plan in N sessions; a broken session is replaced, its file retried."""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pasv.client.client import FtpClient, Progress
from pasv.client.errors import DataStalled, FtpClientError, ReplyError
from pasv.client.mirror import Entry, MirrorPlan
from pasv.client.retry import OnRetry, RetryPolicy, Sleep, with_retries
from pasv.client.transfer import get_file, put_file

__all__ = ["ClientFactory", "run_plan"]

ClientFactory = Callable[[], Awaitable[FtpClient]]
Note = Callable[[str], None]


class _NoSession(Exception):
    """The server refused one more session for now; other sessions go on with the files."""


# replies that refuse one file for good (missing, not allowed, a name the server will not
# take): the run goes on with the others, as lftp and rsync do, and fails at the end
_FILE_REFUSALS = frozenset({550, 553})


def refuses_only_the_file(exc: FtpClientError) -> bool:
    return isinstance(exc, ReplyError) and exc.code in _FILE_REFUSALS  # never transient


def link_in_the_way(root: Path, rel: str) -> str | None:
    """Why ``rel`` must not be written below ``root``: a part of its path is a symbolic link
    (it could lead outside the tree). A link to a file at the end is not in the way: the copy
    replaces the link itself (as rsync does), never what it points to."""
    parts = rel.split("/")
    here = root
    for i, part in enumerate(parts):
        here = here / part
        if here.is_symlink() and (i < len(parts) - 1 or here.is_dir()):
            return f"{'/'.join(parts[: i + 1])} is a symbolic link to a directory"
    return None


def _skip(the_plan: MirrorPlan, rel: str, reason: str, note: Note, file: bool = True) -> None:
    if file:
        the_plan.skipped.append(rel)
    note(f"Not writing {rel}: {reason}; mirror does not write through links.")


def _apply_locally(the_plan: MirrorPlan, root: Path, note: Note) -> None:
    """Deletions and new directories of a download, on the local disk."""
    for rel, entry in the_plan.deletes:
        if entry.kind == "dir":
            (root / rel).rmdir()
        else:
            (root / rel).unlink()
    root.mkdir(parents=True, exist_ok=True)
    for rel in the_plan.mkdirs:
        reason = link_in_the_way(root, rel)
        if reason is not None:
            _skip(the_plan, rel, reason, note, file=False)
            continue
        (root / rel).mkdir(parents=True, exist_ok=True)


async def _delete(client: FtpClient, path: str, entry: Entry) -> None:
    if entry.kind == "dir":
        await client.rmdir(path)
    else:
        await client.delete(path)


def _mark_stale(local: Path) -> None:
    """A download that did not end confirmed may have left the file at the server's size (all
    of it came, no 226): its time is set to 1970, so the next mirror copies it again rather
    than take it for a copy newer than the server's."""
    with contextlib.suppress(OSError):
        if local.is_file() and not local.is_symlink():
            os.utime(local, (0, 0))


async def _first_failure(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run ``jobs`` together; at the first failure cancel the others, then raise it."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            raise failure


@dataclass
class _Copier:
    """Copies files in sessions of its own making; a transient failure gets a new session."""

    the_plan: MirrorPlan
    remote_root: str
    local_root: Path
    connect: ClientFactory
    policy: RetryPolicy
    progress: Progress | None
    on_retry: OnRetry | None
    sleep: Sleep
    note: Note
    opened: list[FtpClient] = field(default_factory=list)
    working: int = 0  # workers holding a session
    told: bool = False  # a refused session was said

    async def _copy(self, client: FtpClient, rel: str, entry: Entry) -> None:
        local, remote = self.local_root / rel, posixpath.join(self.remote_root, rel)
        if self.the_plan.direction == "upload":
            await put_file(client, local, remote, resume=False, progress=self.progress)
            await client.set_mtime(remote, entry.mtime)
        else:
            reason = link_in_the_way(self.local_root, rel)
            if reason is not None:
                _skip(self.the_plan, rel, reason, self.note)
                return
            if local.is_symlink():  # a link to a file: the file takes the link's place
                local.unlink()
            await get_file(client, remote, local, resume=False, progress=self.progress)
            if entry.mtime:
                os.utime(local, (entry.mtime, entry.mtime))

    async def _session(self) -> FtpClient:
        """A new session; when the server refuses it for now (421 too many connections from
        this address …) while other sessions work, this worker stops and they go on."""
        try:
            client = await self.connect()
        except FtpClientError as exc:
            if exc.transient and self.working > 0:
                raise _NoSession(str(exc)) from exc
            raise
        self.opened.append(client)
        return client

    async def _mark_stale_there(self, rel: str) -> FtpClient | None:
        """After an upload that kept stalling, the server's copy may have every byte and a
        new time: in a new session (kept for the next file) MFMT sets its time to 1970, so the
        next mirror copies it again rather than take it for newer. None: no session now."""
        try:
            client = await self._session()
        except (FtpClientError, _NoSession):
            return None
        self.working += 1
        try:
            if not await client.set_mtime(posixpath.join(self.remote_root, rel), 0):
                self.note(
                    f"The server's {rel} may be incomplete and cannot be marked (no MFMT): "
                    "a later mirror may take it as up to date (one with --checksum will not)."
                )
        except FtpClientError:
            await client.close()
            self.working -= 1
            return None
        return client

    async def worker(self, client: FtpClient | None, queue: list[tuple[str, Entry]]) -> None:
        """Take files from ``queue`` until it is empty; ``None``: open a session first."""
        current = client
        self.working += current is not None

        async def attempt(rel: str, entry: Entry) -> None:
            nonlocal current
            if current is None:
                current = await self._session()
                self.working += 1
            try:
                await self._copy(current, rel, entry)
            except FtpClientError as exc:
                if exc.transient:  # the session may be broken: the retry starts a new one
                    await current.close()
                    current = None
                    self.working -= 1
                raise

        try:
            while queue:
                rel, entry = queue.pop(0)
                try:
                    await with_retries(
                        partial(attempt, rel, entry), self.policy, sleep=self.sleep,
                        on_retry=self.on_retry,
                    )  # fmt: skip
                except _NoSession as exc:
                    queue.insert(0, (rel, entry))  # for a session that works
                    if not self.told:
                        self.told = True
                        self.note(f"The server refused another session ({exc}); going on "
                                  f"with {self.working}.")  # fmt: skip
                    return
                except FileNotFoundError as exc:  # gone from the local tree since listed
                    self.the_plan.failed.append((rel, f"{exc.strerror}: {exc.filename}"))
                    self.note(f"Not copied: {rel} (gone from {self.local_root}); going on.")
                except DataStalled as exc:  # this file's transfer, every time: not the others
                    self.the_plan.failed.append((rel, str(exc)))
                    self.the_plan.stalled.append(rel)
                    self.note(f"Not copied: {rel} ({exc}); going on with the others.")
                    if self.the_plan.direction == "download":
                        _mark_stale(self.local_root / rel)
                    elif current is None:  # closed after the stall
                        current = await self._mark_stale_there(rel)
                except FtpClientError as exc:
                    if refuses_only_the_file(exc):
                        self.the_plan.failed.append((rel, str(exc)))
                        self.note(f"Not copied: {rel} ({exc}); going on with the others.")
                        continue
                    exc.final = True  # tried policy.attempts times: not worth a whole new run
                    raise
        finally:
            self.working -= current is not None


async def run_plan(
    the_plan: MirrorPlan,
    remote_root: str,
    local_root: Path,
    first: FtpClient,
    connect: ClientFactory,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    policy: RetryPolicy | None = None,
    on_retry: OnRetry | None = None,
    sleep: Sleep = asyncio.sleep,
    note: Note | None = None,
) -> int:
    """Carry out a plan in ``first`` and ``jobs - 1`` more sessions; returns files copied.

    A file whose copy fails transiently (a lost connection, 421, 426 …) is tried again in a
    new session after the policy's wait, up to ``policy.attempts`` times (default: once). A
    file the server refuses for good (550 gone or not allowed, 553), or whose data connection
    stalled at every attempt (``DataStalled``, also in ``plan.stalled``), is listed in
    ``plan.failed`` and the others are copied.
    ``note`` receives what the run decided on its own (default: the first session's log):
    a file not written because a symbolic link is in its way (listed in ``plan.skipped``).
    """
    say = note or first.status
    if the_plan.direction == "upload":
        for rel, entry in the_plan.deletes:
            await _delete(first, posixpath.join(remote_root, rel), entry)
        if the_plan.create_root:
            await first.mkdir(remote_root)
        for rel in the_plan.mkdirs:
            await first.mkdir(posixpath.join(remote_root, rel))
    else:
        _apply_locally(the_plan, local_root, say)
    queue = list(the_plan.copies)
    copier = _Copier(
        the_plan, remote_root, local_root, connect, policy or RetryPolicy(attempts=1), progress,
        on_retry, sleep, say,
    )  # fmt: skip
    starts: list[FtpClient | None] = [first, *[None] * (min(jobs, len(queue)) - 1)]
    try:
        await _first_failure([copier.worker(client, queue) for client in starts])
    except BaseException:
        await asyncio.gather(*(c.close() for c in copier.opened))
        raise
    await asyncio.gather(*(c.quit() for c in copier.opened))
    return len(the_plan.copies) - len(the_plan.skipped) - len(the_plan.failed)
