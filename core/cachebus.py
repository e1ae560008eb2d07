"""Cache invalidation shared by every process: a version number per topic.

Whatever changes data that a hot-path cache holds (admin, API, jobs, importer) calls
`bump(topic)`; a reader that cached data together with the topic's version reloads when
`version(topic)` moved on. With REDIS_URL the versions live in Redis (every web node sees a
change on its very next request) and each bump is also published on PUBSUB_CHANNEL for
readers that prefer push; without Redis they live in this process, which is the only
one serving in embedded mode.

Readers that want the push register a callback with `subscribe`: one listener thread per
process hears every publish and calls each subscriber in turn.

Bumps happen after the surrounding transaction commits, so a reader can never cache the
old rows under the new version.
"""

import itertools
import logging
import threading
import time
from collections.abc import Callable

from django.db import transaction

from core.backend import uses_redis
from core.redis import shared_client, sync_client

logger = logging.getLogger(__name__)

TOPICS = ("auth", "routing", "prices", "options", "cooling")
KEY_PREFIX = "oneproxy:v:"
PUBSUB_CHANNEL = "oneproxy:invalidate"

_local_versions: dict[str, int] = {}
_local_lock = threading.Lock()
_counter = itertools.count(1)
_local_bump_count = 0


def version_key(topic: str) -> str:
    return KEY_PREFIX + topic


def local_bumps() -> int:
    """How many bumps this process has made: a reader that skips the version read while
    nothing was published must still see its own process's changes at once."""
    return _local_bump_count


def _bump_now(topics: tuple[str, ...]) -> None:
    global _local_bump_count
    _local_bump_count += 1
    client = shared_client()
    if client is None:
        with _local_lock:
            for topic in topics:
                _local_versions[topic] = next(_counter)
        return
    pipe = client.pipeline(transaction=False)
    for topic in topics:
        pipe.incr(version_key(topic))
    pipe.publish(PUBSUB_CHANNEL, ",".join(topics))
    pipe.execute()


def bump(*topics: str) -> None:
    """Invalidate `topics` for every process once the current transaction commits."""
    unknown = set(topics) - set(TOPICS)
    if unknown:
        raise ValueError(f"unknown cache topics: {sorted(unknown)}")
    transaction.on_commit(lambda: _bump_now(topics))


def versions(*topics: str) -> tuple[int, ...]:
    """The current version of each topic (0 if never bumped)."""
    client = shared_client()
    if client is None:
        return tuple(_local_versions.get(t, 0) for t in topics)
    return tuple(int(v or 0) for v in client.mget([version_key(t) for t in topics]))


# ---- push: one listener thread per process, many subscribers ------------------------------
# A subscriber gets the topics of each publish, or None when the listener (re)connected
# or lost Redis: then anything may have changed unheard, so it must re-read.
Subscriber = Callable[[frozenset[str] | None], None]
_subscribers: list[Subscriber] = []
_listener: threading.Thread | None = None
_listener_lock = threading.Lock()
_listening = False
RETRY_SECONDS = 1.0


def subscribe(callback: Subscriber) -> None:
    """Call `callback(topics)` from the listener thread on every bump any process
    publishes, and `callback(None)` on every (re)connect or loss of Redis. Starts the
    listener on first use; in embedded mode there is nothing to hear and it stays off.
    A callback must be quick and must not raise (errors are logged and ignored)."""
    global _listener
    with _listener_lock:
        if callback not in _subscribers:
            _subscribers.append(callback)
        if not uses_redis():
            return
        if _listener is not None and _listener.is_alive():
            # A late subscriber missed the connect's None: give it one, off its thread.
            threading.Thread(target=_notify, args=(None, [callback]), daemon=True,
                             name="oneproxy-cachebus-join").start()
            return
        _listener = threading.Thread(target=_listen, daemon=True, name="oneproxy-cachebus")
    _listener.start()


def listening() -> bool:
    """True while the listener is subscribed: a publish made now will be heard."""
    return _listening


def _notify(topics: frozenset[str] | None, callbacks: list[Subscriber] | None = None) -> None:
    for callback in list(_subscribers if callbacks is None else callbacks):
        try:
            callback(topics)
        except Exception:  # noqa: BLE001 - one subscriber must not deafen the others
            logger.warning("cache bus subscriber %r failed", callback, exc_info=True)


def _listen() -> None:
    global _listening
    client = sync_client(health_check_interval=30)
    while True:
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(PUBSUB_CHANNEL)
            _notify(None)  # before `listening` turns true, so no reader trusts old state
            _listening = True
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message:
                    _notify(frozenset(bytes(message["data"]).decode().split(",")))
        except Exception:  # noqa: BLE001 - keep listening whatever Redis did
            logger.warning("cache bus listener lost Redis; retrying", exc_info=True)
        _listening = False
        _notify(None)
        time.sleep(RETRY_SECONDS)
