"""Passive channel health: a sliding error window per channel and per (channel, model),
and the "cooling" set of channels (or models on a channel) that routing goes around.

The relay calls `report()` after every upstream attempt and `is_cooling()` while picking a
channel. Both stay off the database: the windows are bucketed counters (Redis hashes
updated by one Lua call when REDIS_URL is set, a dict under a lock otherwise), and
`is_cooling` reads an in-process copy of the cooling set.

With Redis the cooling set is a Redis hash; every start or end of a cooling period bumps
the cachebus "cooling" version and publishes on its channel in the same round trip, and a
listener thread in every web process reloads its copy on that message. `refresh()` does
the same on demand. Cooling has its own topic so that it never reloads the routing table.

Cooling never changes a channel's status: it ends when the retest job (or any channel
test) passes, or at the latest after `expires` so a stopped scheduler cannot strand a
channel. Dead keys are different: `key_invalid` asks for the key to be disabled at once,
since no retry will revive it.

This module owns no rows: it tells channels_app through core.signals (`key_rejected`,
`cooling_changed`), whose receivers disable keys, write log rows and notify, and it hears
`channel_passed_test` to end cooling (connected in relay's AppConfig.ready).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from dataclasses import asdict, dataclass

import orjson
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from core import cachebus, signals
from core.backend import uses_redis
from core.redis import async_client, shared_client

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 10
WINDOW_BUCKETS = 12  # a two-minute window in ten-second slices
COOLING_KEY = "oneproxy:health:cooling"
COOLING_TOPIC = "cooling"  # the core.cachebus topic of the cooling set
WINDOW_PREFIX = "oneproxy:health:w:"
# Client mistakes say nothing about the upstream's health (One API's misfire, D.2 #5).
IGNORED_STATUSES = frozenset({400, 413, 422})

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


@dataclass(frozen=True, slots=True)
class Cooling:
    """One cooling entry. `model` "" means the whole channel."""

    channel_id: int
    model: str
    reason: str
    since: float
    retest_at: float  # the retest job probes the channel from here on
    expires: float  # routed around until here even if no retest ever runs
    strikes: int = 1

    @property
    def field(self) -> str:
        return f"{self.channel_id}|{self.model}"

    def active(self, now: float) -> bool:
        return now < self.expires


# ---- the in-process copy of the cooling set ---------------------------------------------
_cooling: dict[tuple[int, str], Cooling] = {}
_generation = 0  # moves on every local write, so a slow reload cannot undo it
_lock = threading.Lock()
_subscribed = False


def is_cooling(channel_id: int, model: str) -> bool:
    """True when routing should avoid `channel_id` for `model` right now.

    A dict lookup: no database and no network (the copy is kept fresh by the listener).
    """
    if not _subscribed and uses_redis():
        _subscribe()
    table = _cooling
    if not table:
        return False
    now = time.time()
    for scope in ((channel_id, ""), (channel_id, model)):
        entry = table.get(scope)
        if entry is not None and entry.active(now):
            return True
    return False


def cooling_entries() -> list[Cooling]:
    """The active cooling entries of this process's copy, oldest first (for admin, jobs)."""
    now = time.time()
    return sorted((e for e in _cooling.values() if e.active(now)), key=lambda e: e.since)


def _set_local(entries: dict[tuple[int, str], Cooling]) -> None:
    global _cooling, _generation
    with _lock:
        _generation += 1
        _cooling = entries


def _decode(raw: dict) -> dict[tuple[int, str], Cooling]:
    entries = {}
    for value in raw.values():
        try:
            entry = Cooling(**orjson.loads(value))
        except (orjson.JSONDecodeError, TypeError):
            continue
        entries[(entry.channel_id, entry.model)] = entry
    return entries


def refresh() -> None:
    """Reload this process's copy from Redis (no-op in embedded mode)."""
    global _cooling
    client = shared_client()
    if client is None:
        return
    for _ in range(3):
        seen = _generation
        entries = _decode(client.hgetall(COOLING_KEY))
        with _lock:
            if seen == _generation:  # nobody wrote meanwhile: this read is the newest
                _cooling = entries
                return


def _subscribe() -> None:
    global _subscribed
    _subscribed = True
    cachebus.subscribe(_heard)


def _heard(topics: frozenset[str] | None) -> None:
    """Reload the cooling copy whenever someone bumps "cooling" (and on every reconnect)."""
    if topics is None or COOLING_TOPIC in topics:
        refresh()


# ---- the sliding windows -----------------------------------------------------------------
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


def _aredis() -> tuple[aioredis.Redis, object]:
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


async def _record(channel_id: int, model: str, error: bool) -> list[tuple[int, int]]:
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
    _, script = _aredis()
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


# ---- reporting and cooling -----------------------------------------------------------------
_thresholds: tuple[float, float, int] | None = None  # (loaded at, error rate, min requests)
THRESHOLDS_TTL = 5.0


def thresholds() -> tuple[float, int]:
    """(error rate, minimum requests) from the runtime options, cached for a few seconds."""
    global _thresholds
    now = time.monotonic()
    if _thresholds is None or now - _thresholds[0] > THRESHOLDS_TTL:
        from billing.models import Option
        from core import options

        opts = options.get_options()
        # The AUTO_DISABLE_ERROR_RATE setting is the default an operator's option overrides.
        stored = Option.objects.filter(key="auto_disable_error_rate").exists()
        rate = opts["auto_disable_error_rate"] if stored else settings.AUTO_DISABLE_ERROR_RATE
        _thresholds = (now, float(rate), int(opts["auto_disable_min_requests"]))
    return _thresholds[1], _thresholds[2]


def crossed(counts: list[tuple[int, int]], rate: float, minimum: int) -> int | None:
    """Index of the first scope whose window reaches `rate` over at least `minimum`
    attempts (channel before model), or None. A rate of 0 or less turns this off."""
    if rate <= 0:
        return None
    for index, (total, errors) in enumerate(counts):
        if total >= max(1, minimum) and errors / total >= rate:
            return index
    return None


async def report(channel_id: int, key_id: int | None, model: str, *, ok: bool,
                 status: int | None = None, error_code: str = "", message: str = "",
                 key_invalid: bool = False) -> None:
    """Record one upstream attempt. Never raises: health bookkeeping must not fail a request.

    `key_invalid` disables the key at once (when the option allows). A failure that takes
    a window to the error-rate threshold cools the channel (or the model on it) down
    before this returns, so the very next routing decision of every process avoids it.
    Rate-limit errors count like other errors: they cool, they never disable.
    """
    if ok:
        record_success(channel_id, model)
        return
    if status in IGNORED_STATUSES:
        return
    try:
        if key_invalid and key_id is not None and await _disable_key(key_id, status, message):
            return
        counts = await _record(channel_id, model, True)
        rate, minimum = thresholds() if _thresholds_fresh() else \
            await sync_to_async(thresholds)()
        index = crossed(counts, rate, minimum)
        if index is None:
            return
        scope_model = "" if index == 0 else model
        if _active_entry(channel_id, "") is None and \
                _active_entry(channel_id, scope_model) is None:
            total, errors = counts[index]
            reason = _reason(errors, total, status, error_code, message)
            await _start_cooling_async(channel_id, scope_model, reason)
    except Exception:  # noqa: BLE001 - health must never break the relay
        logger.exception("health report failed", extra={"channel_id": channel_id})


def _thresholds_fresh() -> bool:
    return _thresholds is not None and time.monotonic() - _thresholds[0] <= THRESHOLDS_TTL


def _reason(errors: int, total: int, status, code: str, message: str) -> str:
    last = " ".join(str(p) for p in (status, code, message[:200]) if p)
    return f"{errors} of the last {total} requests failed (last: {last or 'error'})"


async def _disable_key(key_id: int, status, message: str) -> bool:
    """Ask the key's owner (channels_app's receiver) to take it out of service; True when
    it did."""
    reason = f"upstream rejected the key ({status or 'error'}): {message[:300]}"
    responses = await sync_to_async(signals.key_rejected.send)(
        sender=Cooling, key_id=key_id, reason=reason)
    return signals.any_true(responses)


def _announce(entry: Cooling, *, started: bool) -> None:
    """Tell channels_app a cooling period began or ended (it logs and notifies)."""
    signals.cooling_changed.send(sender=Cooling, channel_id=entry.channel_id,
                                 model=entry.model, reason=entry.reason, started=started)


def _active_entry(channel_id: int, model: str) -> Cooling | None:
    entry = _cooling.get((channel_id, model))
    return entry if entry is not None and entry.active(time.time()) else None


def _new_entry(channel_id: int, model: str, reason: str, strikes: int) -> Cooling:
    # Each failed retest doubles the pause, up to HEALTH_COOLDOWN_MAX.
    pause = min(settings.HEALTH_COOLDOWN_SECONDS * 2 ** (strikes - 1),
                settings.HEALTH_COOLDOWN_MAX)
    now = time.time()
    return Cooling(channel_id, model, reason[:500], now, now + pause, now + 2 * pause, strikes)


def _queue_writes(pipe, entry: Cooling | None, field: str, scopes) -> None:
    """Store or drop a cooling entry, reset its windows and tell every process (one trip)."""
    if entry is None:
        pipe.hdel(COOLING_KEY, field)
    else:
        pipe.hset(COOLING_KEY, field, orjson.dumps(asdict(entry)))
    pipe.delete(*(window_key(*s) for s in scopes))
    pipe.incr(cachebus.version_key(COOLING_TOPIC))
    pipe.publish(cachebus.PUBSUB_CHANNEL, COOLING_TOPIC)


def _put_local(channel_id: int, model: str, entry: Cooling | None) -> None:
    table = dict(_cooling)
    if entry is None:
        table.pop((channel_id, model), None)
    else:
        table[(channel_id, model)] = entry
    _set_local(table)


def _scopes(channel_id: int, model: str):
    return [(channel_id, model)] if model else [(channel_id, "")]


async def _start_cooling_async(channel_id: int, model: str, reason: str) -> None:
    entry = _new_entry(channel_id, model, reason, 1)
    if uses_redis():
        client, _ = _aredis()
        pipe = client.pipeline(transaction=True)
        _queue_writes(pipe, entry, entry.field, _scopes(channel_id, model))
        await pipe.execute()
    else:
        _local_windows.reset(_scopes(channel_id, model))
    _put_local(channel_id, model, entry)
    await sync_to_async(_announce)(entry, started=True)


def start_cooling(channel_id: int, model: str, reason: str, *, strikes: int = 1) -> Cooling:
    """Cool `channel_id` (or `model` on it) down now; sync twin of the relay's path.
    Returns the entry. Used by the retest job to extend a pause after a failed probe."""
    entry = _new_entry(channel_id, model, reason, strikes)
    _write(channel_id, model, entry)
    _announce(entry, started=True)
    return entry


def end_cooling(channel_id: int, model: str = "") -> bool:
    """End a cooling period (after a passing test); returns whether one was active."""
    entry = _active_entry(channel_id, model)
    client = shared_client()
    if entry is None and client is not None:
        refresh()  # this process may have missed the start; trust Redis
        entry = _active_entry(channel_id, model)
    if entry is None:
        return False
    _write(channel_id, model, None)
    _announce(entry, started=False)
    return True


def passed_test(sender: object, *, channel_id: int, model: str, **kwargs: object) -> None:
    """Receiver of core.signals.channel_passed_test: a passing test ends the cooling of
    the channel and of the tested model on it."""
    end_cooling(channel_id, "")
    if model:
        end_cooling(channel_id, model)


def _write(channel_id: int, model: str, entry: Cooling | None) -> None:
    client = shared_client()
    if client is None:
        _local_windows.reset(_scopes(channel_id, model))
    else:
        pipe = client.pipeline(transaction=True)
        _queue_writes(pipe, entry, f"{channel_id}|{model}", _scopes(channel_id, model))
        pipe.execute()
    _put_local(channel_id, model, entry)


def due_for_retest(now: float | None = None) -> list[Cooling]:
    """Entries whose pause is over: the retest job probes them."""
    refresh()
    now = time.time() if now is None else now
    return [e for e in _cooling.values() if e.retest_at <= now]


def clear() -> None:
    """Forget every window and cooling entry (tests, and the operator's "reset health")."""
    client = shared_client()
    if client is not None:
        keys = list(client.scan_iter(match=WINDOW_PREFIX + "*")) + [COOLING_KEY]
        client.delete(*keys)
    _local_windows.reset(list(_local_windows.data))
    _pending.clear()
    _set_local({})
