"""A change made through the API is seen by the very next /v1 request: no stale token,
channel, price or user, with the default RELAY_CACHE_CHECK_MS (no sleeps). Runs in
embedded mode on SQLite and in Redis mode in the PostgreSQL and MariaDB passes."""

from __future__ import annotations

import orjson
import pytest
from asgiref.sync import sync_to_async

from conftest import make_channel, make_price, make_token, make_user
from oneproxy.tests.api_fixtures import client_for
from relay.tests.helpers import CHAT, asgi_post

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def _default_cache_check(settings):
    settings.RELAY_CACHE_CHECK_MS = 1000  # what production runs with; fresh_relay sets 0


@pytest.fixture
async def world(fake_openai):
    def build():
        make_price()
        channel = make_channel(base_url=fake_openai.url)
        user = make_user()
        token, key = make_token(user)
        root = make_user("root", role="root")
        return {"channel": channel, "user": user, "token": token, "key": key,
                "api": client_for(root)}

    return await sync_to_async(build)()


async def chat(key: str, model: str = "gpt-4o-mini") -> tuple[int, dict]:
    status, body = await asgi_post(URL, orjson.dumps({**CHAT, "model": model}), key)
    return status, orjson.loads(body)


def api(world, method: str, path: str, body=None):
    async def call():
        response = await sync_to_async(getattr(world["api"], method))(
            path, body, format="json")
        assert response.status_code < 300, response.content
        return response

    return call()


async def test_a_token_disabled_through_the_api_stops_working_at_once(world):
    assert (await chat(world["key"]))[0] == 200
    await api(world, "patch", f"/api/tokens/{world['token'].pk}/", {"status": "disabled"})
    status, body = await chat(world["key"])
    assert status == 401, body


async def test_a_token_deleted_through_the_api_stops_working_at_once(world):
    assert (await chat(world["key"]))[0] == 200
    await api(world, "delete", f"/api/tokens/{world['token'].pk}/")
    assert (await chat(world["key"]))[0] == 401


async def test_a_user_disabled_through_the_api_is_refused_at_once(world):
    assert (await chat(world["key"]))[0] == 200
    await api(world, "patch", f"/api/users/{world['user'].pk}/", {"status": "disabled"})
    assert (await chat(world["key"]))[0] in (401, 403)


async def test_a_channel_created_through_the_api_serves_the_very_next_request(world,
                                                                             fake_openai):
    assert (await chat(world["key"], "gpt-4o"))[0] == 503
    await sync_to_async(make_price)("gpt-4o")
    await api(world, "post", "/api/channels/", {
        "type": "openai", "name": "new", "base_url": fake_openai.url, "models": ["gpt-4o"],
        "groups": ["default"], "keys": ["sk-upstream-new-0001"]})
    status, body = await chat(world["key"], "gpt-4o")
    assert status == 200, body


async def test_a_channel_disabled_through_the_api_gets_no_more_traffic(world, fake_openai):
    assert (await chat(world["key"]))[0] == 200
    served = len(fake_openai.requests)
    await api(world, "patch", f"/api/channels/{world['channel'].pk}/", {"status": "disabled"})
    status, body = await chat(world["key"])
    assert status == 503, body
    assert len(fake_openai.requests) == served


async def test_a_price_deleted_through_the_api_is_missing_on_the_next_request(world):
    assert (await chat(world["key"]))[0] == 200
    prices = (await api(world, "get", "/api/prices/")).json()["results"]
    await api(world, "delete", f"/api/prices/{prices[0]['id']}/")
    status, body = await chat(world["key"])
    assert status == 403 and body["error"]["code"] == "model_price_not_set"
