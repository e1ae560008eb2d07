"""The ASGI entry point: fast path for the API, full Django for the admin, lifespan."""

import asyncio

import orjson
import pytest

from oneproxy.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _scope(path, method="GET", headers=()):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *headers],
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


def _endless_body(received: list):
    """A receive() giving 64 KiB chunks, 100 at most (an unbounded reader stops there)."""

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 65536, "more_body": len(received) < 100}

    return receive


def _send_to(sent: list):
    async def send(message):
        sent.append(message)

    return send


async def test_a_v1_body_without_a_key_is_refused_before_any_of_it_is_received():
    received, sent = [], []
    scope = _scope("/v1/chat/completions", "POST", [(b"transfer-encoding", b"chunked")])
    await asyncio.wait_for(application(scope, _endless_body(received), _send_to(sent)), 10)
    assert sent[0]["status"] == 401
    headers = {k.lower(): v for k, v in sent[0]["headers"]}
    assert headers[b"www-authenticate"] == b'Bearer realm="OneProxy"'
    assert headers[b"connection"] == b"close"
    assert received == []


async def test_an_api_body_over_the_limit_is_no_longer_read_once_past_it(settings):
    settings.SERVER_ADMIN_BODY_MB = 1
    received, sent = [], []
    scope = _scope("/api/users/", "POST", [(b"transfer-encoding", b"chunked")])
    await asyncio.wait_for(application(scope, _endless_body(received), _send_to(sent)), 10)
    assert sent[0]["status"] == 413
    assert len(received) == 17  # 16 chunks make 1 MB; the 17th is one too many


async def test_the_relay_view_reuses_the_key_found_before_the_body_was_read(
        fake_openai, monkeypatch):
    from asgiref.sync import sync_to_async

    from relay.snapshot import snapshot
    from relay.tests.helpers import CHAT, asgi_post, setup_world

    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    lookups = []
    real_lookup = snapshot.principal

    async def counted(key_hash):
        lookups.append(key_hash)
        return await real_lookup(key_hash)

    monkeypatch.setattr(snapshot, "principal", counted)
    status, _body = await asgi_post("/v1/chat/completions", orjson.dumps(CHAT), key)
    assert status == 200
    assert len(lookups) == 1


async def test_a_failing_key_lookup_before_the_body_is_an_openai_shaped_500(monkeypatch):
    from relay.snapshot import snapshot

    async def broken(key_hash):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(snapshot, "principal", broken)
    received, sent = [], []
    scope = _scope("/v1/chat/completions", "POST",
                   [(b"authorization", b"Bearer sk-cold"), (b"content-length", b"10")])
    await asyncio.wait_for(application(scope, _endless_body(received), _send_to(sent)), 10)
    assert sent[0]["status"] == 500
    assert orjson.loads(sent[1]["body"])["error"]["code"] == "internal_error"
    assert received == []
