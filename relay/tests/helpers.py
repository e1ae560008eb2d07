"""Helpers shared by the relay tests: requests, streams, error shapes, flushed logs.

The factories live in the root conftest.py (one set for every app's tests)."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async

from conftest import make_channel, make_price, make_token, make_user

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello"}]}


def setup_world(url: str, **channel_fields):
    """A priced model, one channel at `url`, a user with quota and a token: (user, key)."""
    make_price()
    make_channel(base_url=url, **channel_fields)
    user = make_user()
    _token, key = make_token(user)
    return user, key


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def post(http, path: str, body, key: str | None = None, headers=None, **extra):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**(auth(key) if key else {}), **(headers or {})}
    return await http.post(path, data=data, content_type=extra.pop("content_type",
                             "application/json"), headers=headers, **extra)


async def asgi_post(path: str, body: bytes, key: str, on_sent=None) -> tuple[int, bytes]:
    """POST through `oneproxy.asgi.application` as uvicorn calls it (the fast path, with
    work deferred until after the response); returns (status, body). `on_sent(body)` runs
    when the last body message goes out. Ends when the app's task would end."""
    import asyncio

    from oneproxy.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"localhost"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {key}".encode()),
                    (b"content-length", str(len(body)).encode())],
    }
    inbox = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive():
        if inbox:
            return inbox.pop()
        await asyncio.sleep(3600)  # the client never hangs up

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body") and on_sent is not None:
                on_sent(b"".join(chunks))

    await asyncio.wait_for(application(scope, receive, send), 30)
    return status, b"".join(chunks)


async def read_stream(response) -> bytes:
    assert response.streaming and response.is_async, "the body must be an async stream"
    return b"".join([chunk async for chunk in response.streaming_content])


def sse_payloads(raw: bytes) -> list[bytes]:
    return [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ")]


def error_of(response) -> dict:
    body = orjson.loads(response.content)
    assert set(body["error"]) == {"message", "type", "code", "param"}, body
    return body["error"]


@sync_to_async
def flushed_logs():
    """Flush queued billing and return every Log row, oldest first."""
    from billing import quota
    from billing.models import Log

    quota.flush()
    return list(Log.objects.order_by("pk"))


@sync_to_async
def refresh(obj):
    obj.refresh_from_db()
    return obj


@pytest.fixture(autouse=True)
def fresh_relay(settings):
    """Every test starts with empty relay caches, balances, health and a new client.
    Autouse wherever it is imported (relay/tests/conftest.py, other apps' relay tests)."""
    from billing import quota
    from relay import client as relay_client
    from relay import throttle
    from relay.health import cooling
    from relay.snapshot import snapshot

    settings.RELAY_CACHE_CHECK_MS = 0
    settings.RUN_EMBEDDED_JOBS = False
    snapshot.reset()
    quota.reset_memory_backend()
    throttle.reset()
    cooling.clear()
    relay_client.set_client_factory(None)
    yield
    snapshot.reset()
    cooling.clear()  # no cooling entry outlives its test (channels_app's tests reuse pks)
    relay_client.set_client_factory(None)
