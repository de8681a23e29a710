"""Fixtures of the gateway tests: the Kie fake and its peer, started once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateways.kie import KieClient
from sandbox.kie import KieFakeConfig, create_app
from sandbox.server import ServerHandle, serve
from tests.gateways.kie_harness import MODEL, Kie, Peer, peer_app


@pytest.fixture(scope="module")
def kie_server() -> Iterator[ServerHandle]:
    config = KieFakeConfig(latency_ms_min=10, latency_ms_max=40, record_info_rate_limit=0, callback_retry_ms=10)
    handle = serve("kie", create_app(config), port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def peer_server() -> Iterator[Peer]:
    peer = Peer()
    peer.handle = serve("kie-peer", peer_app(peer), port=0)
    yield peer
    peer.handle.stop()


@pytest.fixture
def kie(kie_server: ServerHandle, peer_server: Peer) -> Iterator[Kie]:
    client = KieClient(kie_server.url, MODEL)
    harness = Kie(kie_server.url, client, peer_server)
    harness.control("reset")
    with peer_server.lock:
        peer_server.callbacks.clear()
        peer_server.answers.clear()
    yield harness
    client.close()
