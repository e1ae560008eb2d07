"""The ASGI entry point: fast path for the API, full Django for the admin, lifespan."""

import asyncio

import pytest

from oneproxy.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(path):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


async def _call(path):
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]
    sent = []

    async def receive():
        if inbox:
            return inbox.pop()
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(application(_scope(path), receive, send), 10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.lower(): v for k, v in start["headers"]}


async def test_the_api_fast_path_answers_with_a_request_id_and_no_browser_middleware():
    status, headers = await _call("/healthz")
    assert status == 200
    assert len(headers[b"x-request-id"]) == 32
    assert b"x-frame-options" not in headers  # the admin's clickjacking guard is skipped


async def test_the_admin_still_goes_through_the_full_middleware_stack():
    status, headers = await _call("/admin/login/")
    assert status == 200
    assert headers[b"x-frame-options"] == b"DENY"
    assert b"x-request-id" in headers


async def test_a_client_disconnect_cancels_the_fast_path_view(monkeypatch):
    cancelled = asyncio.Event()

    async def slow_view(request):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    from oneproxy import urls

    pattern = next(p for p in urls.urlpatterns if getattr(p, "name", "") == "healthz")
    monkeypatch.setattr(pattern, "callback", slow_view)
    messages = [
        {"type": "http.request", "body": b"", "more_body": False},
    ]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    await asyncio.wait_for(application(_scope("/healthz"), receive, send), 5)
    assert cancelled.is_set()
