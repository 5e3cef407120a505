"""PASV, EPSV, PORT, EPRT, REST and ABOR: preparing and stopping data connections."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

from pasv.protocol import addresses
from pasv.protocol.codes import ReplyCode
from pasv.protocol.errors import ArgumentError, BadSequence, FtpError
from pasv.protocol.replies import Reply, make_reply
from pasv.server.datachannel import (
    ActiveChannel,
    PassiveChannel,
    announced_address,
    check_active_target,
)
from pasv.server.handlers import command
from pasv.server.language import say
from pasv.server.proxied import DataOrigin
from pasv.server.session import Session
from pasv.server.tlspolicy import secure_data


def _refuse_after_epsv_all(s: Session, name: str) -> None:
    if s.options.epsv_all:
        raise BadSequence(say("data.name_refused_the_client", name=name))


def _open_passive(s: Session) -> PassiveChannel:
    s.close_data()
    secure = partial(secure_data, s) if s.protected else None
    balancers = s.server.balancers
    origin = DataOrigin(balancers, s.options.via) if balancers is not None else None
    channel = PassiveChannel(
        s.server.passive_pool,
        s.local_ip,
        s.peer_ip,
        secure,
        origin,
        s.server.events.foreign_data_peer,
        s.server.loop,
    )
    s.data = channel
    return channel


def _announce(s: Session, reply: Reply) -> Reply:
    s.announced = f"{reply.code} {reply.text}"
    return reply


def site_pasvinfo(s: Session) -> Reply:
    """SITE PASVINFO: the 227/229 reply exactly as this server sent it, so a client can tell
    whether a router or firewall on the way rewrote the address or port it received."""
    if not s.announced:
        return make_reply(ReplyCode.OK, "PASVINFO none: no PASV or EPSV in this session yet.")
    return make_reply(ReplyCode.OK, f"PASVINFO {s.announced}")


@command("PASV")
def pasv(s: Session, arg: str) -> Reply:
    _refuse_after_epsv_all(s, "PASV")
    if ":" in s.local_ip:  # the listener would be on this IPv6 address, whatever 227 named
        raise FtpError(
            "PASV can only name an IPv4 address; on an IPv6 connection use EPSV.",
            code=ReplyCode.CANNOT_OPEN_DATA,
        )
    settings = s.server.settings.passive
    host = announced_address(s.peer_ip, s.local_ip, settings.address, s.server.passive_overrides)
    channel = _open_passive(s)
    return _announce(s, make_reply(ReplyCode.PASSIVE, addresses.format_227(host, channel.port)))


@command("EPSV")
def epsv(s: Session, arg: str) -> Reply:
    value = arg.strip().upper()
    if value == "ALL":
        s.use_options(replace(s.options, epsv_all=True))
        return make_reply(ReplyCode.OK, "EPSV ALL ok: only EPSV from now on.")
    family = "2" if ":" in s.local_ip else "1"
    if value and value != family:
        if value.isascii() and value.isdigit():  # a protocol number (RFC 2428): 522 for any
            raise FtpError(
                say("data.network_protocol_not_supported", family=family),
                code=ReplyCode.UNSUPPORTED_NETWORK_PROTOCOL,
            )
        raise ArgumentError(say("data.unknown_epsv_argument_v", v1=value[:20]))
    channel = _open_passive(s)
    return _announce(s, make_reply(ReplyCode.EXTENDED_PASSIVE, addresses.format_229(channel.port)))


def _active(s: Session, verb: str, host: str, port: int) -> None:
    if host in ("0.0.0.0", "::"):  # lftp names its listener's unspecified address (on
        host = s.peer_ip  # loopback it binds none): the client itself, as its own address
    check_active_target(verb, host, port, s.peer_ip)
    s.close_data()
    s.data = ActiveChannel(host, port, s.local_ip)


@command("PORT")
def port(s: Session, arg: str) -> Reply:
    _refuse_after_epsv_all(s, "PORT")
    host, number = addresses.parse_port_argument(arg)
    _active(s, "PORT", host, number)
    return make_reply(ReplyCode.OK, "PORT command successful; consider using PASV.")


@command("EPRT")
def eprt(s: Session, arg: str) -> Reply:
    _refuse_after_epsv_all(s, "EPRT")
    host, number = addresses.parse_eprt_argument(arg.strip())
    _active(s, "EPRT", host, number)
    return make_reply(ReplyCode.OK, "EPRT command successful.")


@command("REST")
def rest(s: Session, arg: str) -> Reply:
    text = arg.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ArgumentError(say("data.rest_needs_a_byte", v1=text[:20]))
    s.rest = int(text)
    return make_reply(ReplyCode.PENDING, say("data.rest", offset=s.rest))


@command("ABOR")
async def abor(s: Session, arg: str) -> Reply:
    transfer = s.transfer
    running = s.control.current
    if running is asyncio.current_task():
        running = None  # ABOR itself, from the queue: nothing runs before it
    if transfer is None or running is None:
        if running is not None:  # the transfer ended as the ABOR came: its command's final
            await asyncio.wait([running])  # reply goes first, so replies keep their order
        s.close_data()
        if s.aborted_unbegun:  # sent with its transfer command, which it stopped before it began
            s.aborted_unbegun = False
            return make_reply(
                ReplyCode.TRANSFER_COMPLETE, "ABOR command successful; transfer aborted."
            )
        return make_reply(ReplyCode.TRANSFER_COMPLETE, "ABOR ok: no transfer was in progress.")
    transfer.abort("ABOR received")
    await asyncio.wait([running])
    return make_reply(ReplyCode.TRANSFER_COMPLETE, "ABOR command successful; transfer aborted.")
