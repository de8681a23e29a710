"""Per-user rate limit of the Mini App API: a token bucket per Telegram user in Redis, shared by every web
process (one Lua script, so the check and the take are atomic across processes).

The limit is a guard against floods, not business state: if Redis is unreachable the request is let through
(and logged) rather than the whole API going down with it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis

from telemetry.logs import log

logger = logging.getLogger("web.ratelimit")

RATE_PER_S = 10.0  # sustained requests per second per user
BURST = 30  # requests a user may make at once (a Mini App screen loads several resources together)
KEY_PREFIX = "pinglass:ratelimit:api:"

_BUCKET = """
local rate = tonumber(ARGV[1]); local burst = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst; local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then
  wait = (1 - tokens) / rate
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


@dataclass(frozen=True)
class Limit:
    rate_per_s: float = RATE_PER_S
    burst: int = BURST


def take(client: redis.Redis, subject: str, limit: Limit) -> float:
    """Take one request from ``subject``'s bucket: 0 when allowed, else the seconds until one is available.

    Redis failures allow the request (0) and log ``ratelimit_unavailable``.
    """
    try:
        wait = client.eval(_BUCKET, 1, KEY_PREFIX + subject, limit.rate_per_s, limit.burst, time.time())
    except redis.RedisError as exc:
        log(logger, "ratelimit_unavailable", level=logging.WARNING, error=type(exc).__name__)
        return 0.0
    return float(wait)


def retry_after_header(wait_s: float) -> str:
    """Whole seconds for ``Retry-After`` (at least 1, so a client never retries at once)."""
    return str(max(1, math.ceil(wait_s)))
