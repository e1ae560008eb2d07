"""The sliding error windows of passive health: attempts and errors per channel and per
(channel, model), in ten-second buckets over two minutes.

Off the database: Redis hashes updated by one Lua call when REDIS_URL is set (every web
process judges the same counts), a dict under a lock otherwise. Successes are batched
(see below); failures go out at once, carrying the channel's pending successes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref

import redis.asyncio as aioredis

from core.backend import uses_redis
from core.redis import async_client, shared_client

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 10
WINDOW_BUCKETS = 12  # a two-minute window in ten-second slices
WINDOW_PREFIX = "oneproxy:health:w:"

# KEYS: window hashes. ARGV: bucket, buckets per window, ttl, then attempts and errors to
# add to each key in turn. Drops slices that left the window; returns n, e per key.
_RECORD_LUA = """
local bucket = tonumber(ARGV[1])
local oldest = bucket - tonumber(ARGV[2]) + 1
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, bucket .. ':n', ARGV[2 + 2 * i])
  local add_e = tonumber(ARGV[3 + 2 * i])
  if add_e > 0 then redis.call('HINCRBY', key, bucket .. ':e', add_e) end
  redis.call('EXPIRE', key, ARGV[3])
  local fields = redis.call('HGETALL', key)
  local n, e = 0, 0
  for j = 1, #fields, 2 do
    local b, kind = string.match(fields[j], '^(%d+):(%a)$')
    if tonumber(b) < oldest then
      redis.call('HDEL', key, fields[j])
    elseif kind == 'n' then
      n = n + tonumber(fields[j + 1])
    else
      e = e + tonumber(fields[j + 1])
    end
  end
  out[#out + 1] = n
  out[#out + 1] = e
end
return out
"""


class _LocalWindows:
    """Embedded mode: bucketed counters in this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[tuple[int, str], dict[int, list[int]]] = {}

    def record(self, scopes, bucket: int, error: bool) -> list[tuple[int, int]]:
        out = []
        with self.lock:
            for scope in scopes:
                buckets = self.data.setdefault(scope, {})
                slot = buckets.setdefault(bucket, [0, 0])
                slot[0] += 1
                slot[1] += int(error)
                for old in [b for b in buckets if b <= bucket - WINDOW_BUCKETS]:
                    del buckets[old]
                out.append((sum(s[0] for s in buckets.values()),
                            sum(s[1] for s in buckets.values())))
        return out

    def reset(self, scopes) -> None:
        with self.lock:
            for scope in scopes:
                self.data.pop(scope, None)


_local_windows = _LocalWindows()
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def aredis() -> tuple[aioredis.Redis, object]:
    """An asyncio Redis client (and the record script) bound to the running loop."""
    loop = asyncio.get_running_loop()
    pair = _async_clients.get(loop)
    if pair is None:
        client = async_client(socket_timeout=5)
        pair = (client, client.register_script(_RECORD_LUA))
        _async_clients[loop] = pair
    return pair


def window_key(channel_id: int, model: str) -> str:
    # The {channel} hash tag keeps both scopes of a channel in one Redis Cluster slot.
    return f"{WINDOW_PREFIX}{{{channel_id}}}:{model}"


def _scope_list(channel_id: int, model: str) -> list[tuple[int, str]]:
    return [(channel_id, ""), (channel_id, model)] if model else [(channel_id, "")]


async def record(channel_id: int, model: str, error: bool) -> list[tuple[int, int]]:
    """Add one attempt to the windows of its scopes; returns (attempts, errors) of each.
    With Redis this also pushes the channel's pending successes, so the rate a failure
    is judged on counts every success this process has seen."""
    scopes = _scope_list(channel_id, model)
    bucket = int(time.time()) // BUCKET_SECONDS
    if not uses_redis():
        return _local_windows.record(scopes, bucket, error)
    adds = {scope: [1, int(error)] for scope in scopes}
    for (scope_channel, scope_model), n in _take_pending(channel_id).items():
        for scope in _scope_list(scope_channel, scope_model):
            adds.setdefault(scope, [0, 0])[0] += n
    flat = await _push(adds, bucket)
    return [(int(flat[i]), int(flat[i + 1])) for i in range(0, 2 * len(scopes), 2)]


async def _push(adds: dict[tuple[int, str], list[int]], bucket: int) -> list:
    """One Lua call adding `adds` ({scope: [attempts, errors]}) to the Redis windows."""
    _, script = aredis()
    args: list[int] = [bucket, WINDOW_BUCKETS, BUCKET_SECONDS * WINDOW_BUCKETS * 2]
    for attempts, errors in adds.values():
        args += (attempts, errors)
    return await script(keys=[window_key(*scope) for scope in adds], args=args)


# ---- batched successes (Redis mode) --------------------------------------------------------
# A success cannot cool anything, so it need not reach Redis before the response: each
# process counts them here and pushes them every SUCCESS_FLUSH_SECONDS (one round trip per
# channel per second instead of one per request). Failures stay immediate and carry the
# channel's pending successes with them, so thresholds are judged on complete counts.
SUCCESS_FLUSH_SECONDS = 1.0
_pending: dict[tuple[int, str], int] = {}  # (channel id, model) -> successes not yet pushed
_flush_timers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loop -> timer
_flushing: set[asyncio.Task] = set()  # strong references to running flushes


def record_success(channel_id: int, model: str) -> None:
    """Count one successful attempt without waiting on anything (never raises). Outside
    an event loop the count waits for the next flush or failure report."""
    if not uses_redis():
        _local_windows.record(_scope_list(channel_id, model),
                              int(time.time()) // BUCKET_SECONDS, False)
        return
    scope = (channel_id, model)
    _pending[scope] = _pending.get(scope, 0) + 1
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if loop not in _flush_timers:
        _flush_timers[loop] = loop.call_later(SUCCESS_FLUSH_SECONDS, _start_flush, loop)


def _take_pending(channel_id: int | None = None) -> dict[tuple[int, str], int]:
    """Remove and return the pending successes (of one channel, or all)."""
    if channel_id is None:
        taken = dict(_pending)
        _pending.clear()
        return taken
    return {scope: _pending.pop(scope) for scope in
            [scope for scope in _pending if scope[0] == channel_id]}


def _start_flush(loop: asyncio.AbstractEventLoop) -> None:
    _flush_timers.pop(loop, None)
    task = loop.create_task(flush_successes())
    _flushing.add(task)
    task.add_done_callback(_flushing.discard)


async def flush_successes() -> None:
    """Push every pending success to Redis now (one call per channel, one round trip).
    Never raises; on a Redis error the counts are put back for the next flush."""
    taken = _take_pending()
    if not taken or not uses_redis():
        return
    bucket = int(time.time()) // BUCKET_SECONDS
    by_channel: dict[int, dict[tuple[int, str], list[int]]] = {}
    for (channel_id, model), n in taken.items():
        adds = by_channel.setdefault(channel_id, {})
        for scope in _scope_list(channel_id, model):
            adds.setdefault(scope, [0, 0])[0] += n
    try:
        # One call per channel: a call's keys share the channel's Redis Cluster slot.
        await asyncio.gather(*(_push(adds, bucket) for adds in by_channel.values()))
    except Exception:  # noqa: BLE001 - health must never break the relay
        for scope, n in taken.items():
            _pending[scope] = _pending.get(scope, 0) + n
        logger.warning("health success flush failed; retrying", exc_info=True)


def reset_window(channel_id: int, model: str = "") -> None:
    """Forget the window of a scope (a fresh start after cooling begins or ends)."""
    scopes = [(channel_id, model)] if model else [(channel_id, "")]
    client = shared_client()
    if client is None:
        _local_windows.reset(scopes)
    else:
        client.delete(*(window_key(*s) for s in scopes))


def reset_local(scopes: list[tuple[int, str]]) -> None:
    """Forget the in-process windows of `scopes` (embedded mode's half of a reset)."""
    _local_windows.reset(scopes)


def clear(client) -> None:
    """Forget every window and pending success; `client` is the shared Redis client or
    None in embedded mode."""
    if client is not None:
        keys = list(client.scan_iter(match=WINDOW_PREFIX + "*"))
        if keys:
            client.delete(*keys)
    _local_windows.reset(list(_local_windows.data))
    _pending.clear()
