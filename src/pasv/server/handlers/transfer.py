"""RETR, STOR, APPE and STOU: file transfers on the data connection."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pasv.policy.models import Perm
from pasv.protocol import paths
from pasv.protocol.ascii import FromNetwork, ToNetwork
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import (
    AlreadyExists,
    ArgumentError,
    FtpError,
    LocalError,
    PathNotFound,
    TransferAborted,
)
from pasv.protocol.replies import Reply, make_reply
from pasv.server import datalayers, modetransfers, transfers
from pasv.server.datachannel import DataChannel, tune
from pasv.server.handlers import command, files
from pasv.server.language import say
from pasv.server.metering import throttle_for
from pasv.server.session import Counters, Session
from pasv.server.tlspolicy import check_data_protection, secure_data
from pasv.server.transfers import Aborted, Transfer
from pasv.server.usage import UploadPlan
from pasv.storage.base import BeyondEnd, ReadHandle, UploadTarget, check_resume

log = logging.getLogger("pasv.transfer")

Body = Callable[[socket.socket, Transfer], Coroutine[Any, Any, None]]

# A transfer of at most this many bytes holds its 150 for the 226 (one wake-up of the client
# instead of two). Larger ones say 150 at once, so that the client reads the data while the
# server finishes: a listing of 70 KB answered in one write took 11% longer per LIST. Uploads
# (size unknown) say it at once too: the client waits for it before it sends.
HOLD_150_UP_TO = 16 * 1024
# read on every transfer: as globals, not through the enum class (see dispatch._REQUIRED)
_OPENING, _COMPLETE = ReplyCode.FILE_STATUS_OK, ReplyCode.TRANSFER_COMPLETE


def check_data_ready(s: Session) -> DataChannel:
    """The refusals a transfer can get before its data connection: none set up (425), or a
    clear one where PROT P is required (534). An upload checks them before it opens its file,
    so that a refused STOR leaves the file there as it was."""
    channel = s.data
    if channel is None:
        raise FtpError(
            "Use PASV, EPSV, PORT or EPRT first to set up the data connection.",
            code=ReplyCode.CANNOT_OPEN_DATA,
        )
    check_data_protection(s)
    return channel


async def run_transfer(
    s: Session,
    *,
    verb: str,
    path: str,
    direction: str,
    total: int | None,
    opening: str,
    body: Body,
    log_transfer: bool = True,
    done_text: str = "",
    on_done: Callable[[Transfer, bool], Awaitable[None]] | None = None,
) -> Reply:
    """Open the data connection, say 150, move the bytes, and give the final reply."""
    channel = check_data_ready(s)
    s.data = None
    if s.control.abor_waiting():  # sent with the command, or while it got ready
        channel.close()
        s.aborted_unbegun = True  # the ABOR's own reply says it aborted this one
        raise TransferAborted(say("transfer.aborted_before_start"))
    transfer = Transfer(verb, direction, path, total, s.server.loop)
    s.transfer = transfer  # from here ABOR, STAT and NOOP are answered at once
    try:
        sock = await transfer.guard(channel.connect(s.settings.data_timeout))
        early_tls = channel.early_tls
    except Aborted:
        s.transfer = None
        raise TransferAborted(
            say("transfer.transfer_aborted_reason_before", reason=transfer.reason)
        ) from None
    except BaseException:
        s.transfer = None
        raise
    finally:
        channel.close()
    transfer.started = time.monotonic()
    opened = make_reply(_OPENING, opening)
    if total is not None and total <= HOLD_150_UP_TO:
        s.control.hold(opened)  # goes with the 226 when the transfer needs no wait
    else:
        s.control.send(opened)
    error: Exception | None = None
    aborted = False
    try:
        if early_tls is not None:
            sock = await transfer.guard(early_tls)
        elif s.protected:
            sock = await transfer.guard(secure_data(s, sock))
        await transfer.guard(body(sock, transfer))
    except Aborted:
        aborted = True
    except Exception as exc:  # mapped to a reply below
        error = exc
    finally:
        transfers.close(sock)
        s.transfer = None
    seconds = time.monotonic() - transfer.started
    complete = not aborted and error is None
    events = s.server.events
    if log_transfer:
        whole = complete and transfer.confirmed
        _account(s, transfer, seconds, whole)
        events.metrics.transfer(transfer.direction, transfer.done, seconds, whole)
        if whole:  # the event goes out after the 226 (ControlProtocol._finish)
            s.finished = (transfer.direction, transfer.path, transfer.done, seconds)
    if on_done is not None:
        await on_done(transfer, complete and transfer.confirmed)
    if aborted:
        return make_reply(
            ReplyCode.TRANSFER_ABORTED,
            say("transfer.aborted", reason=transfer.reason, done=transfer.done),
        )
    if error is None:
        rate = transfer.done / max(seconds, 1e-6) / 1e6
        caveat = "" if transfer.confirmed else say("transfer.unconfirmed")
        return make_reply(
            _COMPLETE,
            say(
                "transfer.complete",
                head=done_text or say("transfer.complete_head"),
                done=transfer.done,
                seconds=f"{seconds:.3f}",
                rate=f"{rate:.2f}",
                caveat=caveat,
            ),
        )
    if isinstance(error, FtpError):
        events.refused(s, error, transfer.path)
        text = say("transfer.stopped", reason=error.text, done=transfer.done)
        return make_reply(error.code, text)
    if isinstance(error, OSError):
        events.data_failed("broken")
        return make_reply(
            ReplyCode.TRANSFER_ABORTED,
            say(
                "transfer.closed",
                done=transfer.done,
                reason=error.strerror or type(error).__name__,
            ),
        )
    log.error("[%d] %s %s failed", s.id, verb, path, exc_info=error)
    raise LocalError("Transfer failed with an internal error; it was logged.")


def _account(s: Session, transfer: Transfer, seconds: float, complete: bool) -> None:
    user = s.user
    counters = s.counters
    if counters is None:
        counters = s.counters = Counters()
    if transfer.direction == "o":
        counters.bytes_out += transfer.done
        counters.files_out += complete
    else:
        counters.bytes_in += transfer.done
        counters.files_in += complete
    s.server.xferlog.record(
        seconds=seconds,
        host=s.peer_ip,
        size=transfer.done,
        path=transfer.path,
        binary=not s.ascii,
        direction=transfer.direction,
        anonymous=bool(user and user.anonymous),
        user=s.who,
        complete=complete,
    )


@command("RETR")
async def retr(s: Session, arg: str) -> Reply:
    offset = s.take_rest()  # first: a refused RETR uses the REST up too
    path = s.resolve(arg)
    s.check(Perm.RETR, path)
    handle = await s.fs.open_read(path, offset)
    try:
        check_resume(offset, handle.size)
        if not s.server.write_mode.atomic:
            await s.refuse_if_uploading(path)  # a file half written is nobody's to read
        remaining = handle.size - offset
        ascii_mode, mode = s.ascii, s.options.mode
        user, server = s.user, s.server
        assert user is not None
        reserved = await server.usage.reserve(
            user, s.settings, s.home, remaining, s.access.messages
        )
        throttle = throttle_for(server.shared, s.access, upload=False)

        async def body(sock: socket.socket, transfer: Transfer) -> None:
            if mode != "S":
                stack = datalayers.build(sock, mode, ascii_mode=ascii_mode, level=s.deflate_level)
                every = server.settings.modes.marker_interval if mode == "B" else 0
                await modetransfers.send_file(
                    stack, handle, transfer, throttle, offset=offset, marker_every=every
                )
            elif handle.descriptor is None or ascii_mode:  # not on disk, or converted
                encoder = ToNetwork() if ascii_mode else None
                await transfers.send_stream(
                    sock, handle, transfer, encoder, throttle, count=remaining
                )
            elif isinstance(sock, ssl.SSLSocket):
                await transfers.send_file_tls(sock, handle, offset, transfer, throttle)
            else:
                await transfers.sendfile(sock, handle, offset, transfer, server.downloads, throttle)
            if transfer.done < remaining:  # the end of the file came early: it was cut meanwhile
                raise LocalError(
                    say("transfer.file_shrank", name=paths.basename(path), size=remaining)
                )
            if handle.changed():  # rewritten in place meanwhile (same size or not)
                raise LocalError(_changed(handle, paths.basename(path)))

        sent = 0  # stays 0 when the transfer never started (no data connection)

        async def count(transfer: Transfer, complete: bool) -> None:
            nonlocal sent
            sent = transfer.done

        opening = say(
            "transfer.opening_size", type=s.type_name, name=paths.basename(path), size=remaining
        )
        try:
            return await run_transfer(
                s,
                verb="RETR",
                path=path,
                direction="o",
                total=remaining,
                opening=opening,
                body=body,
                on_done=count,
            )
        finally:
            if reserved:  # what was reserved and not sent goes back
                await asyncio.shield(server.usage.settle(user, reserved, sent))
    finally:
        await handle.close()


def _changed(handle: ReadHandle, name: str) -> str:
    """Why a download whose file changed is a 451; one that only grew (a log being written)
    is told so: an append cannot be told from a rewrite that made it longer (docs/reliability)."""
    fd = handle.descriptor
    now = os.fstat(fd).st_size if fd is not None else -1
    if now > handle.size:
        return say("transfer.file_grew", name=name, size=handle.size, now=now)
    return say("transfer.file_changed", name=name)


def _ragged_end(s: Session, transfer: Transfer, declared: int | None) -> None:
    """A TLS upload ended without close_notify: complete only when ALLO announced exactly
    the bytes that came; else 426 (or, where the operator allows it, a 226 that says so and
    is logged incomplete)."""
    if declared is not None and declared == transfer.done:
        return
    if s.server.settings.tls.require_close_notify:
        raise TransferAborted(s.access.messages.say("upload_unconfirmed"))
    transfer.confirmed = False


async def _store(
    s: Session,
    path: str,
    offset: int,
    *,
    append: bool,
    verb: str,
    exclusive: bool = False,
    done_text: str = "",
) -> Reply:
    s.check_new_name(path)
    check_data_ready(s)
    declared = s.take_allocated()
    # the lock's name; the walk that found it goes to the open with it (the storage keeps none)
    target = s.fs.upload_target(path)
    identity = target.identity
    claim = s.server.in_use.claim(identity)
    if claim is None:
        raise s.busy(path)
    cluster = s.server.cluster
    try:
        if cluster is not None:  # the same name uploaded on another node: 450 too
            await cluster.claim(identity, s.id, s.busy(path))
        return await _receive_file(
            s,
            path,
            offset,
            declared,
            target,
            append=append,
            verb=verb,
            exclusive=exclusive,
            done_text=done_text,
        )
    finally:
        claim.release()
        if cluster is not None:
            await cluster.unclaim(identity)  # before the 226 goes out


async def _receive_file(
    s: Session,
    path: str,
    offset: int,
    declared: int | None,
    target: UploadTarget,
    *,
    append: bool,
    verb: str,
    exclusive: bool,
    done_text: str,
) -> Reply:
    server, user = s.server, s.user
    assert user is not None
    plan = await UploadPlan.start(
        server.usage,
        server.shared,
        s.fs,
        user,
        s.settings,
        s.home,
        s.access.messages,
        path=path,
        offset=offset,
        append=append,
        owners=server.gate.policy.counts_owners,
    )
    throttle = throttle_for(server.shared, s.access, upload=True)
    mode = server.write_mode
    try:
        handle = await s.fs.open_write(
            path, offset=offset, append=append, exclusive=exclusive, mode=mode, target=target
        )
    except BeyondEnd as exc:
        if plan is not None:
            plan.cancel()
        if _may_see_size(s, path):
            raise
        raise ArgumentError(say("transfer.rest_beyond_end", offset=exc.offset)) from None
    except BaseException:
        if plan is not None:
            plan.cancel()
        raise
    decoder = FromNetwork() if s.ascii else None
    mode_name = s.options.mode
    start = offset if not append else await modetransfers.size_before(s, path, mode_name)
    server.uploads += 1
    server.changed()
    outcome = (0, False)
    begun = False  # the data connection came, with its TLS: the file may change from here

    async def done(transfer: Transfer, complete: bool) -> None:
        nonlocal outcome
        outcome = (transfer.done, complete)

    try:
        watch = plan.watch if plan is not None else None

        async def body(sock: socket.socket, transfer: Transfer) -> None:
            nonlocal begun
            begun = True
            await handle.begin()  # a STOR cuts the file only now (docs/reliability.md)
            tune(sock)
            if mode_name != "S":
                stack = modetransfers.upload_stack(s, sock, mode_name, start, transfer)
                await modetransfers.receive(stack, handle, transfer, throttle, watch)
                ended = datalayers.tls_end(stack)
                if ended is not None:
                    log.debug(
                        "[%d] %s %s: TLS data ended %s after %d bytes (MODE %s ended first)",
                        s.id,
                        verb,
                        path,
                        ended or "without close_notify within the wait",
                        transfer.done,
                        mode_name,
                    )
                await handle.commit()  # the layers' own end proved the file whole
                return
            clean = await transfers.receive(sock, handle, transfer, decoder, throttle, watch)
            if isinstance(sock, ssl.SSLSocket):
                log.debug(
                    "[%d] %s %s: TLS data ended %s after %d bytes",
                    s.id,
                    verb,
                    path,
                    "with close_notify" if clean else "without close_notify",
                    transfer.done,
                )
            if not clean:
                _ragged_end(s, transfer, declared)
            await handle.commit()  # the 226 comes only once the file is in place

        if verb == "STOU":
            opening = f"FILE: {paths.basename(path)}"
        else:
            opening = say("transfer.opening", type=s.type_name, name=paths.basename(path))
        return await run_transfer(
            s,
            verb=verb,
            path=path,
            direction="i",
            total=None,
            opening=opening,
            body=body,
            done_text=done_text,
            on_done=done,
        )
    finally:
        server.uploads -= 1
        drop = plan is not None and plan.drop_partial
        try:
            await asyncio.shield(handle.close(discard=drop))
        finally:  # the accounting runs even when the close could not keep what came
            if plan is not None and begun:
                await asyncio.shield(plan.finish(*outcome))
            elif plan is not None:  # no data connection (or its TLS failed): nothing changed
                plan.cancel()
            server.changed()


def _may_see_size(s: Session, path: str) -> bool:
    """Whether a refusal may name the file's size: only to who may read or list it."""
    return s.user is not None and any(
        s.access.decide(perm, path).allowed for perm in (Perm.RETR, Perm.LIST)
    )


@command("STOR")
async def stor(s: Session, arg: str) -> Reply:
    offset = s.take_rest()  # first: a refused STOR uses the REST up too
    path = s.resolve(arg)
    s.check(Perm.STOR, path)
    if offset:  # a resumed STOR writes into the file that is there, as an APPE does
        s.check(Perm.APPE, path)
    reply = await _store(s, path, offset, append=False, verb="STOR")
    await files.remember_upload(s, path, reply)
    return reply


@command("APPE")
async def appe(s: Session, arg: str) -> Reply:
    offset = s.take_rest()
    path = s.resolve(arg)
    s.check(Perm.APPE, path)
    reply = await _store(s, path, offset, append=True, verb="APPE")
    await files.remember_upload(s, path, reply)
    return reply


@command("STOU")
async def stou(s: Session, arg: str) -> Reply:
    offset = s.take_rest()
    base = s.resolve(arg) if arg.strip() else paths.join(s.cwd, "upload")
    s.check(Perm.STOR, base)
    for attempt in range(1000):
        candidate = base if attempt == 0 else f"{base}.{attempt}"
        try:
            await s.fs.stat(candidate)
        except PathNotFound:
            try:
                return await _store(
                    s,
                    candidate,
                    offset,
                    append=False,
                    verb="STOU",
                    exclusive=True,
                    done_text=say("transfer.stored_as", name=paths.basename(candidate)),
                )
            except AlreadyExists:
                continue
    raise FtpError("Could not find a unique file name.", code=ReplyCode.FILE_ACTION_NOT_TAKEN)
