"""The tests' own port blocks: below the ephemeral range; a port in use is passed over."""

from __future__ import annotations

import socket

from tests.support.ports import SERVER_BLOCK, ephemeral_range, free_port, free_ports, server_block


def test_ports_come_from_this_workers_block_below_the_ephemeral_range() -> None:
    low, high = server_block()
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert all(low <= p <= high for p in ports)
    assert high < ephemeral_range()[0]


def test_a_port_someone_holds_is_passed_over() -> None:
    taken = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        seen = {free_port() for _ in range(SERVER_BLOCK)}
    assert seen  # others of the block are free (some may be held by earlier tests' sockets)
    assert taken not in seen
