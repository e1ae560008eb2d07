"""Cache invalidation shared by every process: a version number per topic.

Whatever changes data that a hot-path cache holds (admin, API, jobs, importer) calls
`bump(topic)`; a reader that cached data together with the topic's version reloads when
`version(topic)` moved on. With REDIS_URL the versions live in Redis (every web node sees a
change on its very next request) and each bump is also published on PUBSUB_CHANNEL for
readers that prefer push; without Redis they live in this process, which is the only
one serving in embedded mode.

Bumps happen after the surrounding transaction commits, so a reader can never cache the
old rows under the new version.
"""

import itertools
import threading

from django.db import transaction

from core.redis import shared_client

TOPICS = ("auth", "routing", "prices", "options")
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
