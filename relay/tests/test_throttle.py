"""Per-token requests- and tokens-per-minute limits through /v1 (in-process counters on
SQLite, Redis counters in the Redis runs), and the window arithmetic."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from conftest import make_channel, make_price, make_token, make_user
from core.redis import shared_client
from relay import throttle
from relay.snapshot import Principal
from relay.tests.helpers import CHAT, error_of, flushed_logs, post, read_stream

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"
REAL_WINDOW = throttle.window


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """Hold the clock inside one window: a test crossing a minute would see counts reset."""
    monkeypatch.setattr(throttle, "window", lambda now=None: (29_000_000, 42))


def world(url: str, **limits) -> str:
    make_price()
    make_channel(base_url=url)
    return make_token(make_user(), **limits)[1]


async def test_requests_past_the_rpm_limit_get_a_429_with_retry_after(async_client,
                                                                        fake_openai):
    key = await sync_to_async(world)(fake_openai.url, rpm_limit=2)
    assert [(await post(async_client, URL, CHAT, key)).status_code for _ in range(2)] == [
        200, 200]
    refused = await post(async_client, URL, CHAT, key)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "42"
    error = error_of(refused)
    assert (error["code"], error["type"]) == ("rate_limit_exceeded", "requests")
    assert "2 requests per minute" in error["message"]
    assert len(await flushed_logs()) == 2  # the refusal reached no upstream, charged nothing


async def test_a_request_refused_before_routing_does_not_use_up_the_rpm_limit(
        async_client, fake_openai):
    key = await sync_to_async(world)(fake_openai.url, rpm_limit=1)
    nowhere = await post(async_client, URL, {**CHAT, "model": "no-such-model"}, key)
    assert nowhere.status_code == 503
    assert (await post(async_client, URL, CHAT, key)).status_code == 200


async def test_concurrent_requests_admit_exactly_the_rpm_limit(async_client, fake_openai):
    key = await sync_to_async(world)(fake_openai.url, rpm_limit=5)
    responses = await asyncio.gather(*(post(async_client, URL, CHAT, key) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [429] * 15


async def test_tokens_past_the_tpm_limit_refuse_the_next_request(async_client, fake_openai):
    key = await sync_to_async(world)(fake_openai.url, tpm_limit=10)
    first = await post(async_client, URL, CHAT, key)
    assert first.status_code == 200 and first.json()["usage"]["total_tokens"] == 11
    refused = await post(async_client, URL, CHAT, key)
    assert refused.status_code == 429
    assert error_of(refused)["type"] == "tokens"


async def test_limits_are_per_token(async_client, fake_openai):
    key = await sync_to_async(world)(fake_openai.url, rpm_limit=1)
    other = (await sync_to_async(make_token)(await _user(), name="other", rpm_limit=1))[1]
    assert (await post(async_client, URL, CHAT, key)).status_code == 200
    assert (await post(async_client, URL, CHAT, other)).status_code == 200
    assert (await post(async_client, URL, CHAT, key)).status_code == 429


@sync_to_async
def _user():
    from billing.models import User

    return User.objects.get(username="alice")


def _principal(rpm: int = 0, tpm: int = 0) -> Principal:
    from decimal import Decimal

    return Principal(token_id=7, token_name="t", token_status="enabled", expires_at=None,
                     unlimited=False, allowed_models=frozenset(), networks=(), user_id=1,
                     username="u", user_status="enabled", is_admin=False, group="default",
                     group_ratio=Decimal(1), rpm_limit=rpm, tpm_limit=tpm)


async def test_a_new_window_admits_again_and_forgets_the_old_counts():
    counters = throttle.MemoryCounters()
    limited = _principal(rpm=1, tpm=5)
    assert await counters.admit(limited, 100) is None
    assert await counters.admit(limited, 100) == "requests"
    await counters.add_tokens(7, 100, 5)
    assert await counters.admit(limited, 101) is None  # the next minute
    assert (7, 100) not in counters.requests and (7, 100) not in counters.tokens
    await counters.add_tokens(7, 101, 5)
    assert await counters.admit(_principal(tpm=5), 101) == "tokens"


def test_the_window_says_which_minute_and_how_long_until_it_turns():
    assert REAL_WINDOW(120.0) == (2, 60)
    assert REAL_WINDOW(150.5) == (2, 30)
    assert REAL_WINDOW(179.2) == (2, 1)


# ---- requests in progress at once ------------------------------------------------------

def held_slots(token_id: int) -> int:
    """Slots the token holds right now, read from the backend in use."""
    backend = throttle._backend()
    if isinstance(backend, throttle.MemoryCounters):
        return len(backend.slots.get(token_id, ()))

    return shared_client().zcard(throttle._slots_key(token_id))


def concurrency_world(url: str, limit: int, **fields) -> tuple[int, str]:
    for model in ("variant-500", "variant-slow_first_byte", "variant-slow_between_events"):
        make_price(model)
    make_price()
    make_channel(base_url=url, models=["gpt-4o-mini", "variant-500", "variant-slow_first_byte",
                              "variant-slow_between_events"])
    token, key = make_token(make_user(), max_concurrency=limit, **fields)
    return token.pk, key


async def test_a_token_at_its_concurrency_limit_is_refused_until_one_finishes(
        async_client, fake_openai):
    token_id, key = await sync_to_async(concurrency_world)(fake_openai.url, 2)
    fake_openai.delay = 0.5
    slow = {**CHAT, "model": "variant-slow_first_byte"}
    responses = await asyncio.gather(*(post(async_client, URL, slow, key) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 200, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert error_of(refused)["code"] == "too_many_concurrent_requests"
    assert refused["Retry-After"] == "1"
    assert held_slots(token_id) == 0
    assert (await post(async_client, URL, CHAT, key)).status_code == 200


async def test_a_stream_holds_its_slot_until_it_ends(async_client, fake_openai):
    token_id, key = await sync_to_async(concurrency_world)(fake_openai.url, 1)
    fake_openai.delay = 0.05
    stream = await post(async_client, URL, {**CHAT, "model": "variant-slow_between_events",
                                             "stream": True}, key)
    assert stream.status_code == 200 and held_slots(token_id) == 1
    assert (await post(async_client, URL, CHAT, key)).status_code == 429
    assert b"data: [DONE]" in await read_stream(stream)
    assert held_slots(token_id) == 0
    assert (await post(async_client, URL, CHAT, key)).status_code == 200


async def test_failed_and_refused_requests_give_their_slot_back(async_client, fake_openai):
    token_id, key = await sync_to_async(concurrency_world)(fake_openai.url, 1,
                                                            remain_quota=5_000)
    failed = await post(async_client, URL, {**CHAT, "model": "variant-500"}, key)
    assert failed.status_code == 502 and held_slots(token_id) == 0
    broke = await post(async_client, URL, {**CHAT, "max_tokens": 100_000}, key)
    assert error_of(broke)["code"] == "insufficient_quota" and held_slots(token_id) == 0
