"""The Redis-or-in-process choice and the one Redis client factory."""

from core import redis as core_redis
from core.backend import PerMode, uses_redis


def test_without_redis_url_state_stays_in_this_process(settings):
    settings.REDIS_URL = ""
    backends = PerMode(lambda: "memory", lambda url: f"redis at {url}")
    assert not uses_redis()
    assert backends.get() == "memory"
    assert core_redis.shared_client() is None


def test_each_redis_url_gets_its_own_implementation_built_once(settings):
    built = []
    backends = PerMode(object, lambda url: built.append(url) or url)
    settings.REDIS_URL = "redis://127.0.0.1:1/1"
    assert uses_redis()
    assert backends.get() == backends.get() == "redis://127.0.0.1:1/1"
    settings.REDIS_URL = "redis://127.0.0.1:1/2"
    assert backends.get() == "redis://127.0.0.1:1/2"
    assert built == ["redis://127.0.0.1:1/1", "redis://127.0.0.1:1/2"]


def test_resetting_the_memory_implementation_builds_a_fresh_one(settings):
    settings.REDIS_URL = ""
    backends = PerMode(dict, str)
    first = backends.get()
    assert backends.get() is first
    backends.reset_memory()
    assert backends.get() is not first


def test_the_shared_client_follows_redis_url_after_a_reset(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/3"
    core_redis.reset()
    try:
        client = core_redis.shared_client()
        assert client is core_redis.shared_client()
        assert client.connection_pool.connection_kwargs["db"] == 3
    finally:
        core_redis.reset()  # the next test connects to its own REDIS_URL
