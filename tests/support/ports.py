"""Ports for the tests: blocks of their own, below the range the kernel hands out.

A port found free by binding port 0 comes from the kernel's ephemeral range (32768-60999 on
Linux), the same range every outgoing connection takes its source port from. Between the check
and the server's own bind, a connection of another test (under xdist, of another process) can
take it, and the server fails with "address already in use". The tests' ports come from fixed
blocks below that range instead, one block per xdist worker, so only this process hands them out.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

SERVER_BLOCK = 250  # listening ports per xdist worker: servers, PostgreSQL, SeaweedFS


def passive_base() -> int:
    """Where the tests' passive ports start: below the kernel's range for outgoing connections
    and port-0 binds (32768-60999 on Linux), so a port the tests ask the kernel for is never one
    a passive listener of another test binds a moment later. PASV_TEST_PASSIVE_BASE moves the
    whole block (pasv's 8 x 1,000 ports, the peers' 8 x 100, then 8 x 250 listening ports:
    11,000 ports from the base, so bases of several checkouts at once lie 11,000 apart, all
    below the ephemeral range)."""
    return int(os.environ.get("PASV_TEST_PASSIVE_BASE", "20000"))


def worker_index() -> int:
    """0 for xdist's gw0 (and without xdist), 1 for gw1 ... (8 blocks, then they repeat)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) % 8 if worker[2:].isdigit() else 0


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (and port-0 binds)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default
    return int(low), int(high)


def server_block() -> tuple[int, int]:
    """This worker's listening ports, first and last: after pasv's and the peers' passive
    blocks."""
    low = passive_base() + 9000 + SERVER_BLOCK * worker_index()
    return low, low + SERVER_BLOCK - 1


_turn = itertools.count()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on or is connected from, for a server a test starts: the next one
    of this worker's block that binds (a port still held by an earlier test is passed over)."""
    low, high = server_block()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(SERVER_BLOCK):
        port = low + next(_turn) % SERVER_BLOCK
        with socket.socket(family) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError(f"no free port in {low}-{high} on {host}")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` different free ports (the block is walked in turn, so they differ)."""
    ports = [free_port(host) for _ in range(count)]
    if len(set(ports)) != count:
        raise OSError(f"fewer than {count} free ports in this worker's block")
    return ports
