"""TCP segments out of a pcap or pcapng file, read with dpkt (IPv4 and IPv6, common link types)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt

__all__ = ["CaptureError", "Segment", "read_segments"]

SYN, FIN, RST = dpkt.tcp.TH_SYN, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST


class CaptureError(Exception):
    """The file is not a capture pasv can read."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One TCP segment: who sent it to whom, when, and what it carried."""

    ts: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    flags: int
    payload: bytes
    length: int  # the payload's length on the wire (more than len(payload) when snaplen cut it)


def _ip_from_raw(buf: bytes) -> Any:
    version = buf[0] >> 4 if buf else 0
    if version == 4:
        return dpkt.ip.IP(buf)
    if version == 6:
        return dpkt.ip6.IP6(buf)
    return None


def _ip_from_null(buf: bytes) -> Any:
    return _ip_from_raw(buf[4:])


def _ip_from_ethernet(buf: bytes) -> Any:
    return dpkt.ethernet.Ethernet(buf).data


def _ip_from_sll(buf: bytes) -> Any:
    return dpkt.sll.SLL(buf).data


def _ip_from_sll2(buf: bytes) -> Any:
    return dpkt.sll2.SLL2(buf).data


_LINK_TYPES: dict[int, Callable[[bytes], Any]] = {
    dpkt.pcap.DLT_EN10MB: _ip_from_ethernet,
    dpkt.pcap.DLT_LINUX_SLL: _ip_from_sll,
    dpkt.pcap.DLT_LINUX_SLL2: _ip_from_sll2,
    dpkt.pcap.DLT_NULL: _ip_from_null,
    dpkt.pcap.DLT_LOOP: _ip_from_null,
    dpkt.pcap.DLT_RAW: _ip_from_raw,
    101: _ip_from_raw,  # LINKTYPE_RAW as written in files (DLT_RAW differs between systems)
    dpkt.pcap.DLT_IPV4: _ip_from_raw,
    dpkt.pcap.DLT_IPV6: _ip_from_raw,
}


def _segment(ts: float, ip: Any) -> Segment | None:
    if isinstance(ip, dpkt.ip.IP):
        if ip.p != dpkt.ip.IP_PROTO_TCP or ip.offset & dpkt.ip.IP_OFFMASK:
            return None
    elif not isinstance(ip, dpkt.ip6.IP6) or ip.p != dpkt.ip.IP_PROTO_TCP:
        return None
    tcp = ip.data
    if not isinstance(tcp, dpkt.tcp.TCP):
        return None
    src = str(ipaddress.ip_address(ip.src))
    dst = str(ipaddress.ip_address(ip.dst))
    if isinstance(ip, dpkt.ip6.IP6):
        # without extension headers (the usual case) the payload length tells what was sent
        total = ip.plen if ip.nxt == dpkt.ip.IP_PROTO_TCP else 0
    else:
        total = ip.len - ip.hl * 4
    length = max(len(tcp.data), total - tcp.off * 4)
    return Segment(
        float(ts), (src, tcp.sport), (dst, tcp.dport), tcp.seq, tcp.flags, tcp.data, length
    )


def read_segments(path: Path, problems: list[str] | None = None) -> Iterator[Segment]:
    """Every TCP segment of the capture, in file order; other packets are skipped.

    A file cut short after its first packets (tcpdump killed, a full disk, a copy interrupted)
    raises CaptureError, unless ``problems`` is given: then the packets before the cut are read
    and the cut is said there, as Wireshark does.
    """
    with path.open("rb") as f:
        try:
            reader = dpkt.pcap.UniversalReader(f)
        except (ValueError, dpkt.dpkt.NeedData) as exc:
            raise CaptureError(f"{path}: not a pcap or pcapng file ({exc})") from None
        decode = _LINK_TYPES.get(reader.datalink())
        if decode is None:
            raise CaptureError(f"{path}: link type {reader.datalink()} is not supported")
        count = 0
        try:
            for ts, buf in reader:
                count += 1
                try:
                    segment = _segment(ts, decode(buf))
                except (dpkt.dpkt.UnpackError, IndexError):
                    continue  # a truncated or foreign frame: not ours to read
                if segment is not None:
                    yield segment
        except (dpkt.dpkt.NeedData, ValueError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            cut = f"{path}: the capture file is cut short after {count} packet(s){detail}"
            if problems is None:
                raise CaptureError(cut) from None
            problems.append(cut + "; what follows is read from the packets before the cut")
