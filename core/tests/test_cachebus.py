"""The cache bus: versions per topic, and one listener thread that tells every subscriber."""

import threading
import time

import pytest

from core import cachebus
from core.redis import shared_client

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
