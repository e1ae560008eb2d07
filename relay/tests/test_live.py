"""OneProxy served by uvicorn on 127.0.0.1 (a real socket): the official `openai` package
against it, and client disconnects mid-stream."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from conftest import make_token, make_user
from providers.tests.fakes.server import ServerThread
from relay.tests.helpers import CHAT, setup_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def oneproxy_url():
    from oneproxy.asgi import application

    server = ServerThread(application).start()  # any ASGI app; lifespan off
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def sdk(oneproxy_url, fake_openai):
    _user, key = setup_world(fake_openai.url, models=["gpt-4o-mini", "text-embedding-3-small"])
    from conftest import make_price

    make_price("text-embedding-3-small")
    return openai.OpenAI(base_url=oneproxy_url + "/v1", api_key=key, max_retries=0)


def test_the_openai_sdk_chats(sdk):
    completion = sdk.chat.completions.create(**CHAT)
    assert completion.choices[0].message.content == "Hello world"
    assert completion.usage.total_tokens == 11


def test_the_openai_sdk_streams_with_usage(sdk):
    stream = sdk.chat.completions.create(**CHAT, stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    assert chunks[-1].usage.completion_tokens == 2


def test_the_openai_sdk_embeds(sdk):
    result = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2 and result.data[0].embedding == [0.1, -0.2, 0.3]


def test_the_openai_sdk_lists_models(sdk):
    assert sorted(m.id for m in sdk.models.list()) == ["gpt-4o-mini", "text-embedding-3-small"]


def test_a_bad_key_raises_the_sdks_authentication_error(sdk, oneproxy_url):
    bad = openai.OpenAI(base_url=oneproxy_url + "/v1", api_key="sk-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(**CHAT)
    assert caught.value.code == "invalid_api_key"
    assert caught.value.response.headers["x-request-id"]


def test_a_client_disconnect_closes_the_upstream_and_bills_what_was_sent(
        oneproxy_url, fake_openai):
    from billing import quota
    from billing.models import Log

    _user, key = setup_world(fake_openai.url)
    fake_openai.variant, fake_openai.delay = "slow_between_events", 1.0
    started = time.monotonic()
    with httpx.Client(timeout=10) as client, client.stream(
            "POST", oneproxy_url + "/v1/chat/completions", json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {key}"}) as response:
        first = next(response.iter_raw())
        assert first.startswith(b"data: ")
    # The upstream would need 4 more seconds; the relay settles as soon as we are gone.
    deadline = time.monotonic() + 3
    while quota.pending_log_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert time.monotonic() - started < 3
    quota.flush()
    [log] = Log.objects.all()
    assert log.status_code == 499 and log.error == "client disconnected"
    assert log.is_stream and log.prompt_tokens > 0


def test_metrics_count_requests_and_are_protected(oneproxy_url, fake_openai, settings):
    user = make_user()
    _token, key = make_token(user)
    httpx.post(oneproxy_url + "/v1/chat/completions", json=CHAT,
               headers={"Authorization": f"Bearer {key}"})
    text = httpx.get(oneproxy_url + "/metrics").text  # 127.0.0.1 is allowed by default
    assert 'oneproxy_requests_total{endpoint="chat_completions"' in text
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "scrape-secret"
    assert httpx.get(oneproxy_url + "/metrics").status_code == 403
    assert httpx.get(oneproxy_url + "/metrics", headers={
        "Authorization": "Bearer scrape-secret"}).status_code == 200
