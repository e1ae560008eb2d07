"""The one pooled upstream HTTP client of this process.

`get_client()` creates an `httpx.AsyncClient` lazily on the running event loop (a client
is bound to the loop it first ran on) and hands the same one to every request. Tests
swap the factory with `set_client_factory`. The ASGI lifespan shutdown closes it
(`close_clients`, registered in RelayConfig.ready()).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from django.conf import settings

ClientFactory = Callable[[], httpx.AsyncClient]

_clients: dict[int, httpx.AsyncClient] = {}  # id(loop) -> client
_factory: ClientFactory | None = None


def default_timeout() -> httpx.Timeout:
    """Connect timeout from settings; reads may last the whole upstream timeout (the relay
    enforces first-byte and stream-idle limits itself)."""
    return httpx.Timeout(settings.RELAY_UPSTREAM_TIMEOUT,
                         connect=settings.RELAY_CONNECT_TIMEOUT,
                         pool=settings.RELAY_CONNECT_TIMEOUT)


def build_client() -> httpx.AsyncClient:
    """The production client: generous pool, keep-alive, optional proxy, no env proxies."""
    limits = httpx.Limits(max_connections=settings.RELAY_MAX_CONNECTIONS,
                          max_keepalive_connections=settings.RELAY_MAX_CONNECTIONS,
                          keepalive_expiry=30)
    return httpx.AsyncClient(timeout=default_timeout(), limits=limits,
                             proxy=settings.RELAY_PROXY or None, trust_env=False,
                             follow_redirects=False)


def set_client_factory(factory: ClientFactory | None) -> None:
    """Use `factory` for new clients (None = the default); existing clients are dropped."""
    global _factory
    _factory = factory
    _clients.clear()


def get_client() -> httpx.AsyncClient:
    """The shared client for the running loop, created on first use."""
    loop_id = id(asyncio.get_running_loop())
    client = _clients.get(loop_id)
    if client is None or client.is_closed:
        client = (_factory or build_client)()
        _clients[loop_id] = client
    return client


async def close_clients() -> None:
    """Close the client(s) of the running loop (lifespan shutdown)."""
    loop_id = id(asyncio.get_running_loop())
    client = _clients.pop(loop_id, None)
    if client is not None:
        await client.aclose()
