"""The "Redis or in-process" choice, written once.

With REDIS_URL set, shared state (quota balances, rate counters, health windows, cache
versions, job slots) lives in Redis, so every process sees the same numbers; without it
(embedded mode) it lives in this process, which is then the only one serving.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings

T = TypeVar("T")


def uses_redis() -> bool:
    """True when shared state lives in Redis (REDIS_URL is set), False in embedded mode."""
    return bool(settings.REDIS_URL)


def tasks_in_process() -> bool:
    """True when background tasks run in this process (threads) rather than on Celery
    workers: embedded mode, or a test that forces CELERY_TASK_ALWAYS_EAGER."""
    return settings.CELERY_TASK_ALWAYS_EAGER


class PerMode(Generic[T]):
    """One implementation for embedded mode and one per Redis URL, picked on every call.

    `memory()` builds the in-process implementation, `redis(url)` the Redis one; each is
    built on first use and kept (a test that switches REDIS_URL gets the matching one).
    """

    def __init__(self, memory: Callable[[], T], redis: Callable[[str], T]) -> None:
        self._make_memory = memory
        self._make_redis = redis
        self._memory: T | None = None
        self._redis: dict[str, T] = {}

    def get(self) -> T:
        """The implementation for the current mode (a dict lookup once built)."""
        url = settings.REDIS_URL
        if not url:
            memory = self._memory
            if memory is None:
                memory = self._memory = self._make_memory()
            return memory
        found = self._redis.get(url)
        if found is None:
            found = self._redis[url] = self._make_redis(url)
        return found

    def reset_memory(self) -> None:
        """Tests only: forget the in-process implementation (the next call builds anew)."""
        self._memory = None
