"""One cache bus listener per process, shared by the relay snapshot and the health copy."""

import time

import pytest

from core import cachebus
from core.redis import shared_client
from relay.health import cooling
from relay.snapshot import _listener as snapshot_listener

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def _subscribed_connections() -> int:
    """Connections to this test database that are subscribed to some channel."""
    client = shared_client()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return sum(1 for c in client.client_list() if int(c["db"]) == db and int(c["sub"]) > 0)


@pytest.mark.redis
def test_the_relay_snapshot_and_the_health_copy_share_one_listener():
    snapshot_listener.quiet()  # each of them starts listening on first use
    cooling.is_cooling(1, "x")
    assert _wait_for(lambda: _subscribed_connections() >= 1)
    time.sleep(0.3)  # let a second listener, if any, connect too
    assert _subscribed_connections() == 1


@pytest.mark.redis
def test_a_subscriber_that_joins_a_running_listener_still_reads_the_current_state():
    from dataclasses import asdict

    import orjson

    snapshot_listener.quiet()
    assert _wait_for(cachebus.listening)
    if cooling._heard in cachebus._subscribers:  # an earlier test subscribed it
        cachebus._subscribers.remove(cooling._heard)
    cooling._subscribed = False
    entry = cooling._new_entry(7, "", "cooled before this process looked", 1)
    shared_client().hset(cooling.COOLING_KEY, entry.field, orjson.dumps(asdict(entry)))
    try:
        cooling.is_cooling(7, "x")  # joins the listener already running
        assert _wait_for(lambda: cooling.is_cooling(7, "x"))
    finally:
        cooling.clear()  # later tests must not find channel 7 cooling in this process


def test_a_cooling_publish_leaves_the_relay_snapshot_clean():
    snapshot_listener.dirty = False
    snapshot_listener._heard(frozenset({"cooling"}))
    assert not snapshot_listener.dirty  # no version read, no reload for cooling
    snapshot_listener._heard(frozenset({"cooling", "routing"}))
    assert snapshot_listener.dirty
    snapshot_listener.dirty = False
    snapshot_listener._heard(None)  # a reconnect: anything may have changed
    assert snapshot_listener.dirty
