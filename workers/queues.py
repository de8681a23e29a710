"""How many messages wait in each queue of the broker: ready, delayed and dead (Dramatiq's own dead-letter
queue; ours is the dead_letters table). Read by /metrics at scrape time.

Redis: a queue is the list ``<ns>:<queue>``, its delayed queue the list ``<ns>:<queue>.DQ`` (messages not yet
taken by a worker), its dead letters the sorted set ``<ns>:<queue>.XQ`` — LLEN and ZCARD, O(1) each, never KEYS.
RabbitMQ: the broker's passive declare counts."""

from __future__ import annotations

from typing import Any

from dramatiq import Broker


def queue_depths(broker: Broker) -> list[tuple[str, int, int, int]]:
    """(queue, ready, delayed, dead) for each queue the broker declared (delayed queues folded into theirs)."""
    queues = sorted(q for q in broker.get_declared_queues() if not q.endswith((".DQ", ".XQ")))
    counts = getattr(broker, "get_queue_message_counts", None)
    if counts is not None:  # RabbitMQ
        return [(q, *counts(q)) for q in queues]
    client: Any = broker.client  # type: ignore[attr-defined]  # a RedisBroker
    ns = broker.namespace  # type: ignore[attr-defined]
    pipe = client.pipeline(transaction=False)
    for q in queues:
        pipe.llen(f"{ns}:{q}")
        pipe.llen(f"{ns}:{q}.DQ")
        pipe.zcard(f"{ns}:{q}.XQ")
    values = pipe.execute()
    return [(q, int(values[3 * i]), int(values[3 * i + 1]), int(values[3 * i + 2])) for i, q in enumerate(queues)]
