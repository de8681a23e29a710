"""The engine's ceiling for ``make bench``: a Dramatiq program whose one actor does nothing but count, on the
fleet's broker (Redis or RabbitMQ, as BROKER says) under its own namespace and queue.

Run by the bench as ``dramatiq scenarios.bench_noop --processes 2 --threads 12`` (the fleet's worker shape)."""

from __future__ import annotations

import os

import dramatiq
import redis
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, TimeLimit

from settings import Settings

QUEUE = "bench_noop"
NAMESPACE = "pinglass-bench-noop"
COUNTER = f"{NAMESPACE}:done"

_settings = Settings.from_env(os.environ)
_middleware = [AgeLimit(), TimeLimit(), Callbacks(), Pipelines(), Retries(max_retries=0)]
if _settings.broker == "rabbitmq":
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker: dramatiq.Broker = RabbitmqBroker(url=_settings.rabbitmq_url, middleware=_middleware)
else:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=_settings.redis_url, namespace=NAMESPACE, middleware=_middleware)
dramatiq.set_broker(broker)
_counter = redis.Redis.from_url(_settings.redis_url)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def noop() -> None:
    """Nothing but the count the bench reads (one Redis INCR)."""
    _counter.incr(COUNTER)
