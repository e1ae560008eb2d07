"""Routing and failover: tiers, weights, retries on the right errors only, and the
query budget of a warm request (zero)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db.backends.utils import CursorWrapper

from conftest import make_channel, make_price, make_token, make_user
from relay.selection import pick_channel
from relay.snapshot import ChannelRoute, RoutingTable, build_table
from relay.tests.helpers import CHAT, error_of, flushed_logs, post, setup_world

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"


def two_tiers(url: str, high_key: str, low_key: str = "sk-low-good-0001", **kw):
    make_price()
    high = make_channel(base_url=url, name="high", keys=[high_key], priority=10)
    low = make_channel(base_url=url, name="low", keys=[low_key], priority=0)
    return high, low, make_token(make_user())[1]


async def test_a_5xx_fails_over_to_the_next_tier(async_client, fake_openai):
    high, low, key = await sync_to_async(two_tiers)(fake_openai.url, "variant-500")
    response = await post(async_client, URL, CHAT, key)
    assert response.status_code == 200
    assert [r.headers["authorization"][7:] for r in fake_openai.requests] == \
        ["variant-500", "sk-low-good-0001"]
    [log] = await flushed_logs()
    assert log.channels_tried == [high.pk, low.pk] and log.channel_id == low.pk


async def test_a_429_fails_over_too(async_client, fake_openai):
    _high, _low, key = await sync_to_async(two_tiers)(fake_openai.url, "variant-429")
    assert (await post(async_client, URL, CHAT, key)).status_code == 200


async def test_a_400_is_never_retried(async_client, fake_openai):
    _high, _low, key = await sync_to_async(two_tiers)(fake_openai.url, "variant-400")
    response = await post(async_client, URL, CHAT, key)
    assert response.status_code == 400
    assert len(fake_openai.requests) == 1
    assert "tried 1 channel" in error_of(response)["message"]
    [log] = await flushed_logs()
    assert log.type == "error" and log.quota == 0 and log.status_code == 400


async def test_the_final_error_says_how_many_channels_were_tried(async_client, fake_openai):
    def world():
        make_price()
        for i in range(4):
            make_channel(base_url=fake_openai.url, name=f"bad{i}", keys=["variant-500"], priority=i)
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    response = await post(async_client, URL, CHAT, key)
    assert response.status_code == 502
    error = error_of(response)
    assert "tried 3 channels" in error["message"]  # 1 + retry_times (2)
    assert "platform.openai.com" not in error["message"]  # upstream URLs scrubbed
    [log] = await flushed_logs()
    assert len(set(log.channels_tried)) == 3 and log.quota == 0


async def test_an_upstream_key_in_an_error_message_is_scrubbed(async_client, fake_openai):
    _user, key = await sync_to_async(setup_world)(fake_openai.url, keys=["variant-401"])
    response = await post(async_client, URL, CHAT, key)
    message = error_of(response)["message"]
    assert "sk-abc" not in message and "https://" not in message
    assert response.status_code == 502  # the channel's key is dead, not the client's


async def test_a_stream_fails_over_before_the_first_byte(async_client, fake_openai):
    _high, _low, key = await sync_to_async(two_tiers)(fake_openai.url, "variant-500")
    response = await post(async_client, URL, {**CHAT, "stream": True}, key)
    assert response.status_code == 200
    assert b"".join([c async for c in response.streaming_content]).endswith(
        b"data: [DONE]\n\n")


async def test_a_connect_error_fails_over(async_client, fake_openai):
    def world():
        make_price()
        make_channel(base_url="http://127.0.0.1:9", name="dead", priority=10)
        make_channel(base_url=fake_openai.url, name="alive")
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    assert (await post(async_client, URL, CHAT, key)).status_code == 200


async def test_a_cooling_channel_is_skipped(async_client, fake_openai):
    from relay.health import cooling

    high, _low, key = await sync_to_async(two_tiers)(fake_openai.url, "sk-high-0001")
    await sync_to_async(cooling.start_cooling)(high.pk, "", "test")
    assert (await post(async_client, URL, CHAT, key)).status_code == 200
    assert fake_openai.last.headers["authorization"] == "Bearer sk-low-good-0001"


class CountingQueries:
    """Counts SQL statements on every connection of every thread (the relay's cold loads
    run in a worker thread, which django_assert_num_queries alone would not see)."""

    def __init__(self, monkeypatch):
        self.count = 0
        original = CursorWrapper.execute

        def execute(cursor, sql, params=None):
            self.count += 1
            return original(cursor, sql, params)

        monkeypatch.setattr(CursorWrapper, "execute", execute)


def test_a_warm_request_makes_no_database_query(async_client, fake_openai, monkeypatch,
                                                django_assert_max_num_queries):
    _user, key = setup_world(fake_openai.url)
    queries = CountingQueries(monkeypatch)

    @async_to_sync
    async def requests():
        for body in (CHAT, {**CHAT, "stream": True}):
            response = await post(async_client, URL, body, key)
            assert response.status_code == 200
            if response.streaming:
                [c async for c in response.streaming_content]
        response = await async_client.get("/v1/models", headers={
            "Authorization": f"Bearer {key}"})
        assert response.status_code == 200

    requests()
    assert queries.count > 0  # the cold requests loaded the caches (the counter works)
    queries.count = 0
    with django_assert_max_num_queries(0):
        requests()
    assert queries.count == 0


async def test_an_admin_change_is_seen_by_the_very_next_request(async_client, fake_openai):
    user, key = await sync_to_async(setup_world)(fake_openai.url)
    assert (await post(async_client, URL, CHAT, key)).status_code == 200
    user.status = "disabled"
    await sync_to_async(user.save)()
    assert (await post(async_client, URL, CHAT, key)).status_code == 403


def route(channel_id: int, weight: int = 1, priority: int = 0) -> ChannelRoute:
    return ChannelRoute(channel_id, f"c{channel_id}", "openai", priority, weight, "", {}, {},
                        ((channel_id, "k"),), None)


def table_of(*routes: ChannelRoute) -> RoutingTable:
    channels = {r.id: r for r in routes}
    return build_table(channels, [("g", "m", r.id, r.priority) for r in routes])


def test_selection_takes_the_highest_tier_first_and_falls_to_lower_ones():
    table = table_of(route(1, priority=0), route(2, priority=5), route(3, priority=5))
    first = pick_channel(table, "g", "m", [], usable=lambda *_: True)
    assert first.id in (2, 3)
    second = pick_channel(table, "g", "m", [first.id], usable=lambda *_: True)
    assert second.id == 5 - first.id
    assert pick_channel(table, "g", "m", [2, 3], usable=lambda *_: True).id == 1
    assert pick_channel(table, "g", "m", [1, 2, 3], usable=lambda *_: True) is None


def test_selection_is_weighted_within_a_tier():
    table = table_of(route(1, weight=1), route(2, weight=9))
    rng = random.Random(7)
    picks = Counter(pick_channel(table, "g", "m", [], usable=lambda *_: True, rng=rng).id
                    for _ in range(2000))
    assert 0.85 < picks[2] / 2000 < 0.95


def test_selection_skips_cooling_channels_but_uses_one_if_nothing_else_is_left():
    table = table_of(route(1, priority=5), route(2, priority=0))
    assert pick_channel(table, "g", "m", [], usable=lambda cid, _m: cid != 1).id == 2
    assert pick_channel(table, "g", "m", [2], usable=lambda cid, _m: cid != 1).id == 1
