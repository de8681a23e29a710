"""The chaos harness tells a dead worker group's broker channels apart by their client ports: only the group's
connections to the broker count, since a local port is unique only per peer (a dead group's port to PostgreSQL may
be a live process's port to the broker at the same moment)."""

from __future__ import annotations

import os
import socket

from scenarios.chaos_services import group_tcp_ports


def test_only_the_connections_to_the_named_peer_are_counted() -> None:
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    broker, other = (listener.getsockname()[1] for listener in listeners)
    to_broker = socket.create_connection(("127.0.0.1", broker))
    to_other = socket.create_connection(("127.0.0.1", other))
    try:
        mine = os.getpgid(0)
        everything = group_tcp_ports(mine)
        assert {to_broker.getsockname()[1], to_other.getsockname()[1]} <= everything
        assert to_broker.getsockname()[1] in group_tcp_ports(mine, remote_port=broker)
        assert to_other.getsockname()[1] not in group_tcp_ports(mine, remote_port=broker)
    finally:
        for sock in (to_broker, to_other, *listeners):
            sock.close()


def test_the_runs_ports_are_below_the_ephemeral_range_with_the_next_one_free() -> None:
    from scenarios.chaos import PORTS_FROM, ephemeral_low, free_ports

    ports = free_ports(6)
    assert len({*ports, *(p + 1 for p in ports)}) == 12  # distinct, and no port is another's port + 1
    assert all(PORTS_FROM <= p and p + 1 < ephemeral_low() for p in ports)
    for port in (*ports, *(p + 1 for p in ports)):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free (a moment ago)
