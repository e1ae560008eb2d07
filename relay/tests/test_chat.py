"""End to end through /v1/chat/completions against the real fake OpenAI server."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async

from providers.tests.openapi import assert_matches
from relay.tests.helpers import (
    CHAT,
    error_of,
    flushed_logs,
    post,
    read_stream,
    setup_world,
    sse_payloads,
)

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"


async def test_it_relays_a_chat_completion_and_bills_it(async_client, fake_openai):
    user, key = await sync_to_async(setup_world)(fake_openai.url)
    raw = orjson.dumps(CHAT)
    response = await post(async_client, URL, raw, key)
    assert response.status_code == 200, response.content
    body = orjson.loads(response.content)
    assert_matches("CreateChatCompletionResponse", body)
    assert body["choices"][0]["message"]["content"] == "Hello world"
    assert response["X-Request-Id"]
    assert fake_openai.last.body == raw  # forwarded untouched
    assert fake_openai.last.headers["authorization"] == "Bearer sk-upstream-ch-0000-secret"
    [log] = await flushed_logs()
    # fake usage: 9 prompt (3 cached) + 2 completion at $1/$2 per 1M -> 15e-6 USD
    assert (log.type, log.prompt_tokens, log.completion_tokens, log.cached_tokens) == \
        ("consume", 9, 2, 3)
    assert log.quota == 7  # ceil(0.000013 * 500000) = ceil(6.5)
    assert log.channels_tried == [log.channel_id]
    assert log.request_id == response["X-Request-Id"]
    assert (log.user_id, log.username, log.token_name, log.group_name, log.client_ip) == (
        user.pk, user.username, "app", "default", "127.0.0.1")
    assert (log.model, log.is_stream, log.status_code, log.error) == (
        "gpt-4o-mini", False, 200, "")
    assert log.price == {"model": "gpt-4o-mini", "input": "1.000000", "output": "2.000000",
                         "cached_input": None, "per_request": None, "group_ratio": "1.0000"}
    assert log.elapsed_ms is not None and log.ttfb_ms is not None
    await sync_to_async(user.refresh_from_db)()
    assert user.quota == 5_000_000 - 7 and user.used_quota == 7


async def test_it_streams_with_usage_when_the_client_asks(async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await post(async_client, URL, body, key)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    payloads = sse_payloads(await read_stream(response))
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    for chunk in chunks:
        assert_matches("CreateChatCompletionStreamResponse", chunk)
    assert chunks[-1]["usage"]["total_tokens"] == 11
    [log] = await flushed_logs()
    assert log.is_stream and (log.prompt_tokens, log.completion_tokens) == (9, 2)


async def test_it_injects_include_usage_upstream_and_strips_it_for_the_client(
        async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    payloads = sse_payloads(await read_stream(response))
    assert fake_openai.last.json()["stream_options"] == {"include_usage": True}
    assert not any(b'"usage":{' in p for p in payloads)
    [log] = await flushed_logs()
    assert (log.prompt_tokens, log.completion_tokens) == (9, 2)  # billed from upstream usage


async def test_it_counts_tokens_locally_when_upstream_sends_no_usage(async_client, fake_openai,
                                                                     settings):
    _user, key = await sync_to_async(setup_world)(fake_openai.url, type="vllm")
    from providers.registry import get_adaptor

    # A provider that rejects stream_options gets none, so the stream carries no usage.
    info = get_adaptor("vllm").provider
    object.__setattr__(info, "stream_usage", False)
    try:
        response = await post(async_client, URL, {**CHAT, "stream": True}, key)
        await read_stream(response)
    finally:
        object.__setattr__(info, "stream_usage", True)
    assert "stream_options" not in fake_openai.last.json()
    [log] = await flushed_logs()
    assert log.prompt_tokens > 0 and log.completion_tokens == 2  # "Hello", " world"


async def test_a_stream_cut_midway_ends_with_an_error_event_and_is_billed(
        async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    fake_openai.variant = "cut_midway"
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    assert response.status_code == 200
    payloads = sse_payloads(await read_stream(response))
    last = orjson.loads(payloads[-1])
    assert last["error"]["code"] == "stream_interrupted"
    assert b"[DONE]" not in payloads
    [log] = await flushed_logs()
    assert log.type == "consume" and log.completion_tokens == 1  # "Hello" was sent
    assert log.quota > 0 and "stream_interrupted" in log.error


async def test_a_malformed_upstream_event_becomes_an_error_event(async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    fake_openai.variant = "malformed_sse"
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    payloads = sse_payloads(await read_stream(response))
    assert orjson.loads(payloads[-1])["error"]["code"] == "bad_upstream_response"


async def test_an_idle_stream_times_out_with_an_error_event(async_client, fake_openai,
                                                            settings):
    settings.RELAY_STREAM_IDLE_TIMEOUT = 0.2
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    fake_openai.variant, fake_openai.delay = "slow_between_events", 1.0
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    payloads = sse_payloads(await read_stream(response))
    assert orjson.loads(payloads[-1])["error"]["code"] == "upstream_timeout"


async def test_a_slow_first_byte_times_out_with_504(async_client, fake_openai, settings):
    settings.RELAY_FIRST_BYTE_TIMEOUT = 0.2
    _user, key = await sync_to_async(setup_world)(fake_openai.url)
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 1.0
    response = await post(async_client, URL, CHAT, key)
    assert response.status_code == 504
    assert error_of(response)["code"] == "upstream_timeout"
    assert "tried 1 channel" in error_of(response)["message"]
    [log] = await flushed_logs()
    assert log.type == "error" and log.quota == 0


async def test_model_mapping_sends_the_upstream_name_and_answers_with_the_asked_one(
        async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(
        fake_openai.url, models=["gpt-4o-mini"], model_mapping={"gpt-4o-mini": "gpt-4o"})
    response = await post(async_client, URL, CHAT, key)
    assert fake_openai.last.json()["model"] == "gpt-4o"
    assert orjson.loads(response.content)["model"] == "gpt-4o-mini"
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    chunks = sse_payloads(await read_stream(response))
    assert all(orjson.loads(c)["model"] == "gpt-4o-mini" for c in chunks[:-1])
