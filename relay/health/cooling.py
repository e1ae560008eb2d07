"""The cooling set: channels (or models on a channel) that routing goes around for a while
after their error window crossed the threshold (see report.py).

`is_cooling()` reads an in-process copy: no database, no network. With Redis the set is a
Redis hash; every start or end of a cooling period bumps the cachebus "cooling" version
and publishes on its channel in the same round trip, and the cache bus listener of every
web process reloads its copy on that message. `refresh()` does the same on demand.
Cooling has its own topic so that it never reloads the routing table.

Cooling never changes a channel's status: it ends when the retest job (relay.tasks) or any
channel test passes (core.signals.channel_passed_test, heard by `passed_test`), or at the
latest after `expires` so a stopped scheduler cannot strand a channel. Each start and end
is announced on core.signals.cooling_changed: channels_app logs and notifies.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings

from core import cachebus, signals
from core.backend import uses_redis
from core.redis import shared_client

from . import windows

COOLING_KEY = "oneproxy:health:cooling"
COOLING_TOPIC = "cooling"  # the core.cachebus topic of the cooling set

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


def _announce(entry: Cooling, *, started: bool) -> None:
    """Tell channels_app a cooling period began or ended (it logs and notifies)."""
    signals.cooling_changed.send(sender=Cooling, channel_id=entry.channel_id,
                                 model=entry.model, reason=entry.reason, started=started)


def active_entry(channel_id: int, model: str) -> Cooling | None:
    """This process's active entry for exactly (channel_id, model), or None."""
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
    pipe.delete(*(windows.window_key(*s) for s in scopes))
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


async def start_cooling_async(channel_id: int, model: str, reason: str) -> None:
    """Cool `channel_id` (or `model` on it) down now, from the relay's failure path: one
    Redis round trip on the running loop, then the announcement off the loop."""
    entry = _new_entry(channel_id, model, reason, 1)
    if uses_redis():
        client, _ = windows.aredis()
        pipe = client.pipeline(transaction=True)
        _queue_writes(pipe, entry, entry.field, _scopes(channel_id, model))
        await pipe.execute()
    else:
        windows.reset_local(_scopes(channel_id, model))
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
    entry = active_entry(channel_id, model)
    client = shared_client()
    if entry is None and client is not None:
        refresh()  # this process may have missed the start; trust Redis
        entry = active_entry(channel_id, model)
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
        windows.reset_local(_scopes(channel_id, model))
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
        client.delete(COOLING_KEY)
    windows.clear(client)
    _set_local({})
