"""The cache bus: versions per topic, and one listener thread that tells every subscriber."""

import threading
import time

import pytest

from channels_app import health
from core import cachebus
from core.redis import shared_client
from relay.snapshot import _listener as snapshot_listener

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_bump_moves_the_topic_version_once_the_transaction_commits():
    (before,) = cachebus.versions("prices")
    cachebus.bump("prices")
    assert cachebus.versions("prices")[0] > before


def test_an_unknown_topic_is_refused():
    with pytest.raises(ValueError, match="unknown cache topics"):
        cachebus.bump("nonsense")


def test_in_embedded_mode_subscribing_starts_no_listener(settings):
    settings.REDIS_URL = ""
    threads = threading.active_count()
    cachebus.subscribe(lambda topics: None)
    assert threading.active_count() == threads


@pytest.mark.redis
def test_every_subscriber_hears_a_bump_published_by_any_process():
    heard: list[frozenset | None] = []
    cachebus.subscribe(heard.append)
    assert _wait_for(cachebus.listening)
    shared_client().publish(cachebus.PUBSUB_CHANNEL, "routing,prices")
    assert _wait_for(lambda: frozenset({"routing", "prices"}) in heard)


def _subscribed_connections() -> int:
    """Connections to this test database that are subscribed to some channel."""
    client = shared_client()
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return sum(1 for c in client.client_list() if int(c["db"]) == db and int(c["sub"]) > 0)


@pytest.mark.redis
def test_the_relay_snapshot_and_the_health_copy_share_one_listener():
    snapshot_listener.quiet()  # each of them starts listening on first use
    health.is_cooling(1, "x")
    assert _wait_for(lambda: _subscribed_connections() >= 1)
    time.sleep(0.3)  # let a second listener, if any, connect too
    assert _subscribed_connections() == 1
