"""The one place Redis clients are made.

Every module that talks to Redis gets its client here, so the connection options live
together. Each caller still passes the options it has always used (timeouts, pool sizes):
they differ on purpose (a readiness probe gives up after 2 s, the quota flush waits 30 s).
redis-py picks the hiredis parser by itself when it is installed (requirements.txt pins it).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings
from redis.asyncio.connection import ConnectionPool

from core.backend import uses_redis

SHARED_SOCKET_TIMEOUT = 5  # seconds; the shared client serves short commands only

_shared: redis.Redis | None = None


def shared_client() -> redis.Redis | None:
    """The process-wide synchronous client for REDIS_URL, or None in embedded mode."""
    global _shared
    if not uses_redis():
        return None
    if _shared is None:
        _shared = redis.Redis.from_url(settings.REDIS_URL,
                                       socket_timeout=SHARED_SOCKET_TIMEOUT)
    return _shared


def sync_client(url: str | None = None, **options: Any) -> redis.Redis:
    """A new synchronous client for `url` (default REDIS_URL); `options` are redis-py's."""
    return redis.Redis.from_url(url or settings.REDIS_URL, **options)


def async_client(url: str | None = None, **options: Any) -> aredis.Redis:
    """A new asyncio client for `url` (default REDIS_URL). Use it on one event loop only."""
    return aredis.Redis.from_url(url or settings.REDIS_URL, **options)


def blocking_async_client(url: str | None, max_connections: int, timeout: float,
                          **options: Any) -> aredis.Redis:
    """An asyncio client whose pool makes callers wait up to `timeout` seconds for one of
    `max_connections` connections, instead of failing when all are busy."""
    pool = aredis.BlockingConnectionPool.from_url(
        url or settings.REDIS_URL, max_connections=max_connections, timeout=timeout, **options)
    return aredis.Redis(connection_pool=pool)


def connection_kwargs(url: str | None = None, **options: Any) -> dict[str, Any]:
    """The keyword arguments of a raw `redis.asyncio.connection.Connection` for `url`, for
    callers that keep their own free list of connections (billing.quota.hotpath)."""
    return ConnectionPool.from_url(url or settings.REDIS_URL, **options).connection_kwargs


def reset() -> None:
    """Tests: drop the shared client, so the next call connects to the current REDIS_URL."""
    global _shared
    _shared = None
