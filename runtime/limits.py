"""The fleet's one limiter module: rate limits kept in Redis, shared by every process on every machine, all on
Redis's clock and under the configured namespace.

- Kie: a sliding window per account (N new tasks per W seconds, shared by the account's keys); ``acquire_kie_key``
  takes a slot on a key whose account has room and that is not resting after a 433, and says which, or how long
  until one frees up; ``settle_kie_slot`` dates the slot by Kie's answer once the call is made.
- Kie's recordInfo: a sliding window per key (``acquire_record_info``), part of it kept for the polls a callback
  asked for.
- Telegram: token buckets per chat and for the whole bot (``acquire_telegram``).
- The Mini App API: a token bucket per user (``take_api_request``), a guard against floods that lets requests
  through when Redis cannot answer.

Each is a single Lua script, so the check and the take are atomic across processes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from telemetry.logs import log

logger = logging.getLogger("runtime.limits")

# Time comes from Redis itself (TIME), not from the calling worker, so machines with skewed clocks share one
# timeline.
_BUCKETS = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n = #KEYS; local waits = {}
local max_wait = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i]); local burst = tonumber(ARGV[2 * i + 1]); local cost = tonumber(ARGV[2 * n + 2])
  local need = math.min(burst, cost + (tonumber(ARGV[2 * n + 2 + i]) or 0))
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1]) or burst; local ts = tonumber(state[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  if tokens < need then
    local wait = (need - tokens) / rate
    if wait > max_wait then max_wait = wait end
  end
  waits[i] = tokens
end
if max_wait > 0 then return tostring(max_wait) end
for i = 1, n do
  local rate = tonumber(ARGV[2 * i]); local burst = tonumber(ARGV[2 * i + 1]); local cost = tonumber(ARGV[2 * n + 2])
  redis.call('HSET', KEYS[i], 'tokens', waits[i] - cost, 'ts', now)
  redis.call('EXPIRE', KEYS[i], math.ceil(burst / rate) + 60)
end
return '0'
"""


# A slot's score is the latest moment its request can have reached Kie: at the grant, now + ARGV[5] (the request
# is still to be sent); once Kie has answered, the answer's time (``settle_kie_slot``). The slot frees a window
# after its score. The keys are tried in turn from the one after the last grant's (KEYS[2n + 1] counts grants),
# so tasks spread over every key with budget: recordInfo's limit and Kie's own cap (433) are per key.
_KIE_WINDOW = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[2]); local limit = tonumber(ARGV[3]); local n = (#KEYS - 1) / 2
local in_flight = tonumber(ARGV[5])
local best_wait = -1
local start = tonumber(redis.call('GET', KEYS[2 * n + 1]) or '0')
for j = 0, n - 1 do
  local i = (start + j) % n + 1
  local account, rest = KEYS[i], KEYS[n + i]
  local rest_ms = redis.call('PTTL', rest)
  if rest_ms > 0 then
    if best_wait < 0 or rest_ms / 1000 < best_wait then best_wait = rest_ms / 1000 end
  else
    redis.call('ZREMRANGEBYSCORE', account, '-inf', now - window)
    local count = redis.call('ZCARD', account)
    if count < limit then
      redis.call('ZADD', account, now + in_flight, ARGV[4])
      redis.call('PEXPIRE', account, math.ceil((window + in_flight) * 1000) + 1000)
      redis.call('SET', KEYS[2 * n + 1], i % n, 'PX', math.ceil(window * 1000) * 10)
      return {i - 1, 0}
    end
    local oldest = redis.call('ZRANGE', account, 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if best_wait < 0 or wait < best_wait then best_wait = wait end
  end
end
return {-1, tostring(best_wait)}
"""
_KIE_SETTLE = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
"""
KIE_KEY_REST_S = 60.0  # a key that answered 433 (over its own cap) rests this long; the others carry on


def kie_rest_key(namespace: str, index: int) -> str:
    return f"{namespace}:limit:kie:rest:{index}"


def rest_kie_key(client: redis.Redis, *, index: int, namespace: str = "pinglass",
                 seconds: float = KIE_KEY_REST_S) -> None:
    """Keep ``acquire_kie_key`` off key ``index`` for ``seconds`` (Kie answered 433: that key is over its cap)."""
    client.set(kie_rest_key(namespace, index), "433", px=max(1, int(seconds * 1000)))
    log(logger, "kie_key_resting", key_index=index, seconds=seconds)


def kie_key_health(client: redis.Redis, *, key_count: int, namespace: str = "pinglass",
                   accounts: tuple[str, ...] | None = None, window_s: float | None = None) -> list[dict[str, object]]:
    """Each key's state for operators: resting after a 433 (and for how long) or available; with ``window_s``
    also its account and how many new-task slots the account holds in its current window (its budget use)."""
    accounts = kie_accounts(key_count, accounts)
    rests = [client.pttl(kie_rest_key(namespace, i)) for i in range(key_count)]
    health: list[dict[str, object]] = []
    for i, ms in enumerate(rests):
        entry: dict[str, object] = {"key_index": i, "resting_s": round(ms / 1000, 1) if ms and ms > 0 else 0.0}
        if window_s is not None:
            (now_s, now_us) = client.time()
            now = now_s + now_us / 1_000_000
            entry["account"] = accounts[i]
            entry["account_used"] = int(client.zcount(f"{namespace}:limit:kie:account:{accounts[i]}",
                                                      now - window_s, "+inf"))
        health.append(entry)
    return health


def kie_accounts(key_count: int, accounts: tuple[str, ...] | None) -> tuple[str, ...]:
    """Each key's account (``Settings.kie_key_accounts``); none given, or not one per key: each key its own."""
    if not accounts or len(accounts) != key_count:
        return tuple(str(i) for i in range(key_count))
    return accounts


def kie_in_flight_s(window_s: float) -> float:
    """How long a granted slot counts as sent "now" before Kie's answer says when it arrived: a request granted
    early can arrive after one granted later (network, GC, thread scheduling). Once answered, the slot is
    settled at the answer's time (``settle_kie_slot``), so this only matters for a request still in flight a
    whole window later, or whose sender died before the answer."""
    return max(0.3, 0.05 * window_s)


def acquire_kie_key(client: redis.Redis, *, key_count: int, limit: int, window_s: float,
                    namespace: str = "pinglass", accounts: tuple[str, ...] | None = None,
                    slot: str | None = None) -> tuple[int | None, float]:
    """Take one createTask slot: (key index, 0) when granted, (None, seconds until one frees) when every key is
    full. ``slot`` names the slot for ``settle_kie_slot`` (a fresh name when not given).

    Kie's limit is per account (``limit`` new tasks per ``window_s``), not per key: keys of one account
    (``accounts[i]`` is key i's account, ``Settings.kie_key_accounts``; none given: each key its own) share
    one window, so extra keys of one account add no budget. A key resting after a 433 is skipped. The keys take
    turns (the one after the last granted first), so every key carries its share of the tasks and of their polls.
    Kie counts arrivals, we count grants: a slot is held from the grant until a window after the moment its
    request can have arrived — ``kie_in_flight_s`` after the grant until Kie answers, then the answer's time.
    """
    accounts = kie_accounts(key_count, accounts)
    windows = [f"{namespace}:limit:kie:account:{accounts[i]}" for i in range(key_count)]
    rests = [kie_rest_key(namespace, i) for i in range(key_count)]
    index, wait = client.eval(_KIE_WINDOW, 2 * key_count + 1, *windows, *rests, f"{namespace}:limit:kie:next",
                              time.time(), window_s, limit,
                              slot or uuid.uuid4().hex, kie_in_flight_s(window_s))
    if int(index) >= 0:
        return int(index), 0.0
    return None, max(0.05, float(wait))


def settle_kie_slot(client: redis.Redis, *, index: int, slot: str, sent: bool, key_count: int, window_s: float,
                    namespace: str = "pinglass", accounts: tuple[str, ...] | None = None) -> None:
    """After the createTask call of slot ``slot`` (granted on key ``index``): ``sent`` — the request went out and
    Kie has answered (or the call failed), so it arrived by now at the latest: the slot frees a window from now,
    not from the grant plus a guess. Not sent (nothing was left to claim): the slot is given back at once."""
    account = kie_accounts(key_count, accounts)[index]
    client.eval(_KIE_SETTLE, 1, f"{namespace}:limit:kie:account:{account}", slot, "1" if sent else "0",
                window_s + kie_in_flight_s(window_s))


class KieKeyRests:
    """Wraps the Kie client: a createTask answered 433 (that key is over its own cap) rests the key
    (``rest_kie_key``) so ``acquire_kie_key`` uses the account's other keys; the error still reaches the caller,
    which returns the task to the pool."""

    def __init__(self, client: Any, store: redis.Redis, *, api_keys: tuple[str, ...], namespace: str) -> None:
        self._client, self._store, self._api_keys, self._namespace = client, store, api_keys, namespace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def create_task(self, *, api_key: str, **kwargs: Any) -> Any:
        try:
            return self._client.create_task(api_key=api_key, **kwargs)
        except Exception as err:
            if getattr(err, "code", None) == 433 and api_key in self._api_keys:
                try:
                    rest_kie_key(self._store, index=self._api_keys.index(api_key), namespace=self._namespace)
                except redis.RedisError:
                    pass
            raise


# recordInfo's window per key: Kie answers 429 past ``limit`` calls in ``window`` seconds. The window is counted a
# little long (RECORD_INFO_MARGIN_S) so the gap between Redis's clock and the moment Kie counts a call never
# puts an 11th in Kie's second. A poll of the scheduled chain leaves ARGV[4] calls of each window to the polls a
# callback asked for (those carry a finished image someone is waiting for; the chain only checks).
_RECORD_INFO_WINDOW = """
local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1]); local limit = tonumber(ARGV[2]) - tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return tostring(math.max(0.001, tonumber(oldest[2]) + window - now))
"""
RECORD_INFO_MARGIN_S = 0.1
RECORD_INFO_KEPT_FOR_CALLBACKS = 3


def acquire_record_info(client: redis.Redis, *, index: int, limit: int, window_s: float = 1.0,
                        for_callback: bool = False, namespace: str = "pinglass") -> float:
    """Take a recordInfo call of Kie key ``index``'s window: 0 when granted, else seconds until one frees. A poll
    of the scheduled chain (not ``for_callback``) may use the window only up to ``limit`` minus
    ``RECORD_INFO_KEPT_FOR_CALLBACKS``."""
    kept = 0 if for_callback else min(RECORD_INFO_KEPT_FOR_CALLBACKS, max(0, limit - 1))
    wait = client.eval(_RECORD_INFO_WINDOW, 1, f"{namespace}:limit:kie:info:{index}",
                       window_s + RECORD_INFO_MARGIN_S, limit, uuid.uuid4().hex, kept)
    return float(wait)


# Telegram counts a send when it arrives, we when we grant it, before the photos are read and uploaded: a long
# upload followed by a short one reaches one chat closer together than we granted them. A chat's grant while it is
# throttled therefore waits this much longer than our bucket alone asks, so that Telegram's bucket has refilled
# too (a 429 costs its whole retry_after, rounded up to a second). Only the chat's bucket: on the bot's global one
# (30/s, shared by every chat) the same margin would be 15 messages, and albums would starve behind single texts.
TG_SEND_SKEW_S = 0.5


def acquire_telegram(client: redis.Redis, *, chat_id: int, cost: int, chat_rate: float, chat_burst: int,
                     global_rate: float, global_burst: int, namespace: str = "pinglass") -> float:
    """Take ``cost`` messages from the chat's and the bot's buckets at once: 0 when granted, else seconds to wait.

    A cost above a bucket's burst is capped at the burst, so a 10-photo album can always pass eventually. The
    chat's bucket grants only with ``TG_SEND_SKEW_S`` of refill to spare beyond the cost (capped at the burst); a
    full bucket is unaffected.
    """
    cost = max(1, min(cost, chat_burst, global_burst))
    keys = [f"{namespace}:limit:tg:chat:{chat_id}", f"{namespace}:limit:tg:global"]
    wait = client.eval(_BUCKETS, len(keys), *keys, time.time(), chat_rate, chat_burst, global_rate, global_burst,
                       cost, TG_SEND_SKEW_S * chat_rate, 0)
    return float(wait)


@dataclass(frozen=True)
class ApiLimit:
    """Requests a Mini App user may make: ``rate_per_s`` sustained, ``burst`` at once (a screen loads several
    resources together)."""

    rate_per_s: float = 10.0
    burst: int = 30


API_LIMIT_TIMEOUT_S = 0.15  # a per-user limit that takes longer than this is not worth waiting for
BREAKER_OPEN_S = 5.0  # after a Redis failure the limiter is skipped this long: one slow request, not every one


@dataclass
class _FailFast:
    """The API limiter's own Redis client (same server, tight timeouts, no retries) and its circuit breaker."""

    client: redis.Redis
    open_until: float = 0.0
    bucket: Any = None  # the bucket script on this client (EVALSHA: the script's text is not sent per request)


_fail_fast: weakref.WeakKeyDictionary[redis.ConnectionPool, _FailFast] = weakref.WeakKeyDictionary()
_fail_fast_lock = threading.Lock()


def _fail_fast_for(client: redis.Redis) -> _FailFast:
    """The fail-fast twin of ``client`` (built once per connection pool, on first use)."""
    pool = client.connection_pool
    with _fail_fast_lock:
        twin = _fail_fast.get(pool)
        if twin is None:
            kwargs = dict(pool.connection_kwargs)
            kwargs.update(socket_timeout=API_LIMIT_TIMEOUT_S, socket_connect_timeout=API_LIMIT_TIMEOUT_S,
                          retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
            twin = _FailFast(redis.Redis(connection_pool=redis.ConnectionPool(
                connection_class=pool.connection_class, max_connections=32, **kwargs)))
            twin.bucket = twin.client.register_script(_BUCKETS)
            _fail_fast[pool] = twin
        return twin


def take_api_request(client: redis.Redis, subject: str, limit: ApiLimit, *, namespace: str = "pinglass") -> float:
    """Take one request from ``subject``'s bucket: 0 when allowed, else the seconds until one is available.

    The limit guards against floods; it is not business state. It runs on its own client to ``client``'s server
    with a ``API_LIMIT_TIMEOUT_S`` timeout and no retries; when Redis fails (down, or hanging: a paused server)
    the request is allowed (0), ``ratelimit_unavailable`` is logged and the breaker opens: for
    ``BREAKER_OPEN_S`` requests skip Redis altogether, so the API keeps its latency while Redis is away.
    """
    twin = _fail_fast_for(client)
    if time.monotonic() < twin.open_until:
        return 0.0
    key = f"{namespace}:limit:api:{subject}"
    try:
        wait = twin.bucket(keys=[key], args=[time.time(), limit.rate_per_s, limit.burst, 1])
    except redis.RedisError as exc:
        twin.open_until = time.monotonic() + BREAKER_OPEN_S
        # The failed call's own connection is already dropped by redis-py; the idle ones go too (a hung server
        # hangs them all). Connections other threads are reading on are theirs to finish: closing them under a
        # reader made its next read a ValueError, an answer 500 instead of a skipped limit.
        twin.client.connection_pool.disconnect(inuse_connections=False)
        log(logger, "ratelimit_unavailable", level=logging.WARNING, error=type(exc).__name__,
            skip_s=BREAKER_OPEN_S)
        return 0.0
    return float(wait)


def retry_after_header(wait_s: float) -> str:
    """Whole seconds for ``Retry-After`` (at least 1, so a client never retries at once)."""
    return str(max(1, math.ceil(wait_s)))
