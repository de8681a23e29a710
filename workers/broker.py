"""The broker builder: Redis by default, RabbitMQ when configured; our middleware instead of the defaults.

Call ``build_broker(settings)`` and ``dramatiq.set_broker`` before any actor module is imported
(``workers.main`` encodes that order)."""

from __future__ import annotations

import redis
from dramatiq import Broker
from dramatiq.middleware import AgeLimit, CurrentMessage, ShutdownNotifications, TimeLimit

from settings import Settings
from workers.heartbeat import Heartbeat
from workers.middleware import ServicesLifecycle, UnitOfWork
from workers.retries import RetryPolicy

# A killed worker's unacked messages come back once its heartbeat is this old and maintenance runs; the
# Redis broker's defaults (60 s, 0.1 % of commands) take minutes, these take seconds.
HEARTBEAT_TIMEOUT_MS = 8_000
MAINTENANCE_CHANCE = 200_000  # per million commands; an idle worker issues several fetches a second


def build_broker(settings: Settings, *, namespace: str = "pinglass", manage_services: bool = True) -> Broker:
    middleware = [AgeLimit(), TimeLimit(time_limit=120_000), ShutdownNotifications(), CurrentMessage(),
                  UnitOfWork(), RetryPolicy(), Heartbeat(settings, namespace)]
    if manage_services:
        middleware.insert(0, ServicesLifecycle(settings))
    if settings.broker == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=settings.rabbitmq_url, middleware=middleware)
    from dramatiq.brokers.redis import RedisBroker

    # Socket timeouts: a Redis that stops answering (rather than refusing) must fail a publish fast, so the
    # web's answer and the relay never hang on it; the outbox keeps the message meanwhile.
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3)
    return RedisBroker(client=client, namespace=namespace, middleware=middleware,
                       heartbeat_timeout=HEARTBEAT_TIMEOUT_MS, maintenance_chance=MAINTENANCE_CHANCE)
