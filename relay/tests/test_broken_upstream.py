"""Broken upstream answers (issue 10, items 8 and 9): an HTML page, invalid JSON or a
foreign JSON object under a 200 is a failed attempt like a 5xx. It fails over while
nothing has reached the client, is refunded when it produced nothing, counts against the
channel's health, and never puts HTML in the client's message (operators find the body,
scrubbed, in the log row)."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async

from conftest import make_channel, make_price, make_token, make_user
from relay.tests.helpers import (
    CHAT,
    error_of,
    flushed_logs,
    post,
    read_stream,
    refresh,
    sse_payloads,
)

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"
STREAM = {**CHAT, "stream": True}
CLAUDE = {**CHAT, "model": "claude-sonnet-4-5"}
GOOD_KEY = "sk-good-upstream-0001"
SPEECH = {"model": "tts-1", "input": "Hello there", "voice": "alloy"}
GENERIC = "The upstream returned an invalid response (HTTP {status})."


@pytest.fixture(autouse=True)
def _forget_thresholds():
    """The strict health thresholds set by `world` must not outlive the test (they are
    cached in-process for a few seconds)."""
    from core import options
    from relay.health import report

    yield
    report._thresholds, options._snapshot = None, None


def world(url: str, bad_key: str, *, good: bool = False, type: str = "openai",
          model: str = "gpt-4o-mini"):
    """A priced model served by a broken channel (and a healthy lower one if `good`).
    One failure in a window cools a channel, so cooling shows the failure was counted.
    Returns (bad channel, user, token, key)."""
    from billing.models import Option
    from core import options
    from relay.health import report

    for name, value in (("auto_disable_min_requests", 1), ("auto_disable_error_rate", 0.5)):
        Option.objects.update_or_create(key=name, defaults={"value": value})
    report._thresholds, options._snapshot = None, None  # as channels_app's health tests do
    make_price(model)
    bad = make_channel(base_url=url, name="broken", keys=[bad_key], priority=10, type=type,
                       models=(model,))
    if good:
        make_channel(base_url=url, name="healthy", keys=[GOOD_KEY], type=type, models=(model,))
    user = make_user()
    token, key = make_token(user)
    return bad, user, token, key


async def balances(user, token) -> tuple[int, int]:
    await flushed_logs()
    user, token = await refresh(user), await refresh(token)
    return user.quota, token.remain_quota


async def request_logs():
    return [log for log in await flushed_logs() if log.type in ("consume", "error")]


def assert_clean(message: str) -> None:
    assert "<" not in message and "nginx" not in message and "corp" not in message


async def assert_refunded_failure(response, user, token, bad_channel, *, status: int = 502,
                                  model: str = "gpt-4o-mini"):
    """A 502 in OpenAI's shape, nothing charged, counted in the channel's health; the
    log row holds the upstream's body for operators, without the channel's key."""
    from relay.health import cooling

    assert response.status_code == status
    error = error_of(response)
    assert_clean(error["message"])
    assert await balances(user, token) == (5_000_000, 1_000_000)
    [log] = await request_logs()
    assert log.type == "error" and log.quota == 0 and log.status_code == status
    assert cooling.is_cooling(bad_channel.pk, model)
    return error, log


# ---- non-stream 200 answers ------------------------------------------------------------

async def test_an_html_200_fails_over_to_the_next_channel(async_client, fake_openai):
    bad, *_rest, key = await sync_to_async(world)(fake_openai.url, "variant-html_200",
                                                  good=True)
    response = await post(async_client, URL, CHAT, key)
    assert response.status_code == 200
    assert orjson.loads(response.content)["choices"][0]["message"]["content"] == "Hello world"
    assert [r.headers["authorization"][7:] for r in fake_openai.requests] == \
        ["variant-html_200", GOOD_KEY]
    [log] = await request_logs()
    assert log.type == "consume" and log.channels_tried[0] == bad.pk
    from relay.health import cooling

    assert cooling.is_cooling(bad.pk, "gpt-4o-mini")


async def test_an_html_200_on_the_only_channel_is_a_refunded_502_without_html(
        async_client, fake_openai):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url, "variant-html_200")
    response = await post(async_client, URL, CHAT, key)
    error, log = await assert_refunded_failure(response, user, token, bad)
    assert error["code"] == "bad_upstream_response"
    assert error["message"].startswith(GENERIC.format(status=200))
    assert "200 Bad Gateway" in log.content and "nginx/1.25.3" in log.content
    assert "variant-html_200" not in log.content  # the channel's key is scrubbed


async def test_a_200_with_invalid_json_is_a_refunded_502(async_client, fake_openai):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url,
                                                       "variant-invalid_json_200")
    response = await post(async_client, URL, CHAT, key)
    _error, log = await assert_refunded_failure(response, user, token, bad)
    assert "chatcmpl-trunc" in log.content


async def test_a_200_json_without_choices_is_a_refunded_502(async_client, fake_openai):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url,
                                                       "variant-wrong_shape_200")
    response = await post(async_client, URL, CHAT, key)
    _error, log = await assert_refunded_failure(response, user, token, bad)
    assert "queued" in log.content


async def test_an_html_answer_to_speech_is_a_refunded_502(async_client, fake_openai):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url, "variant-html_200",
                                                       model="tts-1")
    response = await post(async_client, "/v1/audio/speech", SPEECH, key)
    await assert_refunded_failure(response, user, token, bad, model="tts-1")


async def test_an_azure_html_200_is_a_refunded_502(async_client, fake_openai):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url, "variant-html_200",
                                                       type="azure")
    response = await post(async_client, URL, CHAT, key)
    await assert_refunded_failure(response, user, token, bad)
    assert fake_openai.last.path.startswith("/openai/deployments/")


async def test_an_anthropic_html_200_fails_over(async_client, fake_anthropic):
    bad, *_rest, key = await sync_to_async(world)(
        fake_anthropic.url, "variant-html_200", good=True, type="anthropic",
        model=CLAUDE["model"])
    response = await post(async_client, URL, CLAUDE, key)
    assert response.status_code == 200
    assert orjson.loads(response.content)["choices"][0]["message"]["content"] == "Hello world"


async def test_an_anthropic_200_that_is_no_message_is_a_refunded_502(
        async_client, fake_anthropic):
    bad, user, token, key = await sync_to_async(world)(
        fake_anthropic.url, "variant-wrong_shape_200", type="anthropic",
        model=CLAUDE["model"])
    response = await post(async_client, URL, CLAUDE, key)
    await assert_refunded_failure(response, user, token, bad, model=CLAUDE["model"])


# ---- streams that fail before anything reached the client ------------------------------

async def test_a_stream_answered_with_html_fails_over(async_client, fake_openai):
    bad, *_rest, key = await sync_to_async(world)(fake_openai.url, "variant-html_200",
                                                  good=True)
    response = await post(async_client, URL, STREAM, key)
    assert response.status_code == 200
    assert (await read_stream(response)).endswith(b"data: [DONE]\n\n")
    [log] = await request_logs()
    assert log.channels_tried[0] == bad.pk and log.status_code == 200


@pytest.mark.parametrize("variant", ["html_200", "html_stream", "invalid_json_200"])
async def test_a_stream_whose_first_event_is_not_json_is_a_refunded_502(
        async_client, fake_openai, variant):
    bad, user, token, key = await sync_to_async(world)(fake_openai.url, f"variant-{variant}")
    response = await post(async_client, URL, STREAM, key)
    assert not response.streaming  # nothing was committed: a plain JSON error
    _error, log = await assert_refunded_failure(response, user, token, bad)
    assert log.content


@pytest.mark.parametrize("variant", ["html_stream", "invalid_json_200"])
async def test_an_anthropic_stream_whose_first_event_is_not_json_fails_over(
        async_client, fake_anthropic, variant):
    bad, *_rest, key = await sync_to_async(world)(
        fake_anthropic.url, f"variant-{variant}", good=True, type="anthropic",
        model=CLAUDE["model"])
    response = await post(async_client, URL, {**CLAUDE, "stream": True}, key)
    assert response.status_code == 200
    assert (await read_stream(response)).endswith(b"data: [DONE]\n\n")
    from relay.health import cooling

    assert cooling.is_cooling(bad.pk, CLAUDE["model"])


# ---- a bad event after good ones -----------------------------------------------------

async def stream_with_bad_event(async_client, fake, body, model):
    bad, user, token, key = await sync_to_async(world)(fake.url, "variant-bad_event_midstream",
                                                       good=True, type=fake.provider,
                                                       model=model)
    response = await post(async_client, URL, body, key)
    assert response.status_code == 200
    payloads = sse_payloads(await read_stream(response))
    return bad, user, token, payloads


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_bad_event_midstream_ends_the_stream_with_an_error_event_and_bills_the_text(
        async_client, fake_openai, fake_anthropic, provider):
    from relay.health import cooling

    fake, body = (fake_openai, STREAM) if provider == "openai" else \
        (fake_anthropic, {**CLAUDE, "stream": True})
    fake.provider = provider
    bad, user, token, payloads = await stream_with_bad_event(async_client, fake, body,
                                                             body["model"])
    last = orjson.loads(payloads[-1])
    assert set(last) == {"error"} and last["error"]["code"] == "bad_upstream_response"
    assert_clean(last["error"]["message"])
    text = "".join((c["choices"][0]["delta"].get("content") or "")
                   for c in map(orjson.loads, payloads[:-1]) if c.get("choices"))
    assert text == "Hello" if provider == "anthropic" else text == "Hello world"
    assert b"[DONE]" not in payloads
    assert len(fake.requests) == 1  # bytes reached the client: no failover
    [log] = await request_logs()
    assert log.type == "consume" and log.status_code == 502 and log.completion_tokens >= 1
    assert log.quota > 0 and "upstream hiccup" in log.content
    assert await balances(user, token) == (5_000_000 - log.quota, 1_000_000 - log.quota)
    assert cooling.is_cooling(bad.pk, body["model"])


async def test_a_stream_that_fails_before_any_text_is_refunded(async_client, fake_openai):
    """The role chunk went out, so there is no failover; but nothing was produced."""
    bad, user, token, key = await sync_to_async(world)(fake_openai.url, "variant-malformed_sse")
    response = await post(async_client, URL, STREAM, key)
    payloads = sse_payloads(await read_stream(response))
    assert len(payloads) == 2 and orjson.loads(payloads[-1])["error"]["code"] == \
        "bad_upstream_response"
    assert await balances(user, token) == (5_000_000, 1_000_000)
    [log] = await request_logs()
    assert log.type == "error" and log.quota == 0 and log.status_code == 502
    assert '{"choices": [{"delta":' in log.content  # the event that was not JSON


# ---- item 9: upstream error pages ----------------------------------------------------

@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_an_html_error_page_becomes_a_short_generic_message(
        async_client, fake_openai, fake_anthropic, provider):
    fake, body = (fake_openai, CHAT) if provider == "openai" else (fake_anthropic, CLAUDE)
    bad, user, token, key = await sync_to_async(world)(
        fake.url, "variant-html_502", type=provider, model=body["model"])
    response = await post(async_client, URL, body, key)
    error, log = await assert_refunded_failure(response, user, token, bad,
                                               model=body["model"])
    assert error["message"] == GENERIC.format(status=502) + " (tried 1 channel)"
    assert "nginx/1.25.3" in log.content and "variant-html_502" not in log.content


async def test_a_provider_json_error_still_passes_its_own_message(async_client, fake_openai):
    _bad, _user, _token, key = await sync_to_async(world)(fake_openai.url, "variant-500")
    response = await post(async_client, URL, CHAT, key)
    assert error_of(response)["message"].startswith(
        "The server had an error while processing your request.")


async def test_users_do_not_see_the_upstream_body_of_their_log_rows(
        async_client, fake_openai):
    from django.test import Client

    from billing.models import UserRole
    from oneproxy.tests.api_fixtures import client_for

    _bad, user, _token, key = await sync_to_async(world)(fake_openai.url, "variant-html_502")
    await post(async_client, URL, CHAT, key)
    [log] = await request_logs()
    assert "nginx/1.25.3" in log.content

    def seen_by(person) -> list[bytes]:
        api = client_for(person)
        admin = Client()
        admin.force_login(person)
        export = admin.post("/admin/billing/log/", {"action": "export_csv",
                                                    "_selected_action": [log.pk]})
        return [api.get("/api/logs/").content, api.get("/api/logs/?search=nginx").content,
                admin.get(f"/admin/billing/log/{log.pk}/change/").content,
                b"".join(export.streaming_content)]

    api_rows, searched, page, csv = await sync_to_async(seen_by)(user)
    assert b"nginx" not in api_rows + page + csv
    assert orjson.loads(searched)["results"] == []  # no oracle through search either
    assert b"The upstream returned an invalid response" in api_rows
    root = await sync_to_async(make_user)("root", role=UserRole.ROOT)
    for seen in await sync_to_async(seen_by)(root):
        assert b"nginx/1.25.3" in seen  # operators keep the whole answer


# ---- the pure rules ------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"<html><body>502 Bad Gateway nginx/1.25.3</body></html>",
    b"upstream connect error or disconnect/reset before headers",
    b'{"error": {"message": "<html><h1>502 Bad Gateway</h1></html>"}}',
    b'["not", "an", "error"]',
    b"",
])
def test_a_body_that_is_not_the_providers_error_gives_a_generic_message(body):
    from providers.errors import error_from_body

    err = error_from_body(502, body, ("sk-secret-0001",))
    assert err.message == GENERIC.format(status=502) and err.retryable
    assert err.detail == body.decode()


@pytest.mark.parametrize(("body", "message"), [
    (b'{"error": {"message": "Rate limit reached", "type": "requests"}}',
     "Rate limit reached"),
    (b'{"type": "error", "error": {"type": "api_error", "message": "Internal error"}}',
     "Internal error"),
])
def test_a_providers_json_error_keeps_its_own_message(body, message):
    from providers.errors import error_from_body

    assert error_from_body(500, body).message == message


def test_the_detail_is_bounded_and_redacts_the_channel_key():
    from providers.errors import DETAIL_LIMIT, detail_of

    detail = detail_of(b"key=sk-secret-0001 " + b"x" * (4 * DETAIL_LIMIT), ("sk-secret-0001",))
    assert len(detail) <= DETAIL_LIMIT + 10 and "sk-secret-0001" not in detail
