"""Every refusal before the upstream: its status, code and message, and nothing charged."""

from __future__ import annotations

import datetime

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from conftest import make_channel, make_group, make_price, make_token, make_user
from relay.tests.helpers import CHAT, error_of, flushed_logs, post, setup_world

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"


@pytest.fixture
async def world(fake_openai):
    user, key = await sync_to_async(setup_world)(fake_openai.url)
    return user, key


async def refused(client, body=CHAT, key=None, status=400, code="", **extra):
    response = await post(client, URL, body, key, **extra)
    assert response.status_code == status, response.content
    assert response["X-Request-Id"]
    error = error_of(response)
    assert error["code"] == code, error
    # RFC 9110: a 401 names the scheme to use (ApiKeyAuthentication.authenticate_header)
    assert response.get("WWW-Authenticate") == ('Bearer realm="OneProxy"'
                                                if status == 401 else None)
    return error


async def test_a_request_without_a_key_is_refused_with_401(async_client, world):
    await refused(async_client, status=401, code="missing_api_key")


async def test_an_unknown_key_is_refused_with_401(async_client, world):
    await refused(async_client, key="sk-" + "x" * 48, status=401, code="invalid_api_key")


@pytest.mark.parametrize("header", ["x-api-key", "api-key"])
async def test_the_key_may_come_in_x_api_key_or_api_key(async_client, world, header):
    _user, key = world
    response = await post(async_client, URL, CHAT, headers={header: key})
    assert response.status_code == 200


@pytest.mark.parametrize(("fields", "code"), [
    ({"status": "disabled"}, "token_disabled"),
    ({"status": "exhausted"}, "token_exhausted"),
])
async def test_unusable_tokens_are_refused_with_401(async_client, world, fields, code):
    user, _key = world
    _token, key = await sync_to_async(make_token)(user, name="other", **fields)
    await refused(async_client, key=key, status=401, code=code)


async def test_an_expired_token_is_refused_with_401(async_client, world):
    user, _key = world
    past = timezone.now() - datetime.timedelta(minutes=1)

    def expired():
        token, key = make_token(user, name="old")
        type(token).objects.filter(pk=token.pk).update(expires_at=past)
        return key

    await refused(async_client, key=await sync_to_async(expired)(), status=401,
                  code="token_expired")


async def test_a_disabled_user_is_refused_with_403(async_client, world):
    user, key = world
    user.status = "disabled"
    await sync_to_async(user.save)()
    await refused(async_client, key=key, status=403, code="user_disabled")


async def test_a_model_outside_the_tokens_list_is_refused_with_403(async_client, world):
    user, _key = world
    _token, key = await sync_to_async(make_token)(user, name="narrow", allowed_models=["gpt-4o"])
    error = await refused(async_client, key=key, status=403, code="model_not_allowed")
    assert "gpt-4o-mini" in error["message"]


async def test_a_client_ip_outside_the_tokens_networks_is_refused_with_403(async_client,
                                                                          world):
    user, _key = world
    _token, key = await sync_to_async(make_token)(user, name="lan", subnets=["10.0.0.0/8"])
    await refused(async_client, key=key, status=403, code="ip_not_allowed")
    _token, key = await sync_to_async(make_token)(user, name="local", subnets=["127.0.0.0/8"])
    response = await post(async_client, URL, CHAT, key)  # the test client is 127.0.0.1
    assert response.status_code == 200


async def test_not_enough_quota_is_refused_with_403_insufficient_quota(async_client, world):
    user, _key = world
    _token, key = await sync_to_async(make_token)(user, name="poor", remain_quota=1)
    error = await refused(async_client, key=key, status=403, code="insufficient_quota")
    assert "API key" in error["message"]
    assert await flushed_logs() == []  # refused before anything was reserved


async def test_no_channel_names_the_group_and_model_with_503(async_client, world):
    _user, key = world
    await sync_to_async(make_price)("gpt-9")
    error = await refused(async_client, {**CHAT, "model": "gpt-9"}, key, status=503,
                          code="model_not_available")
    assert "'gpt-9'" in error["message"] and "'default'" in error["message"]


async def test_a_users_503_names_no_other_group_serving_the_model(async_client, fake_openai):
    def world():
        make_price("claude-x")
        make_channel(base_url=fake_openai.url, name="vip-only", models=["claude-x"], groups=["vip"])
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    error = await refused(async_client, {**CHAT, "model": "claude-x"}, key, status=503,
                          code="model_not_available")
    assert "vip" not in error["message"] and "group(s)" not in error["message"]
    assert "'default'" in error["message"]


async def test_an_operators_503_says_which_other_groups_serve_the_model(async_client,
                                                                        fake_openai):
    def world():
        make_price("claude-x")
        make_channel(base_url=fake_openai.url, name="vip-only", models=["claude-x"], groups=["vip"])
        return make_token(make_user("ops", role="admin"))[1]

    key = await sync_to_async(world)()
    error = await refused(async_client, {**CHAT, "model": "claude-x"}, key, status=503,
                          code="model_not_available")
    assert "available in group(s): vip" in error["message"]


async def test_the_503_says_when_the_model_is_served_under_another_name(async_client,
                                                                        fake_openai):
    def world():
        make_price("gpt-4o")
        make_channel(base_url=fake_openai.url, models=["alias"], model_mapping={"alias": "gpt-4o"})
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    error = await refused(async_client, {**CHAT, "model": "gpt-4o"}, key, status=503,
                          code="model_not_available")
    assert "served under the name(s): alias" in error["message"]


async def test_a_model_without_a_price_is_refused_unless_a_default_price_is_on(async_client,
                                                                               fake_openai):
    def world():
        make_channel(base_url=fake_openai.url, models=["unpriced"])
        return make_token(make_user())[1]

    key = await sync_to_async(world)()
    await refused(async_client, {**CHAT, "model": "unpriced"}, key, status=403,
                  code="model_price_not_set")

    def enable_default():
        from billing.models import Option

        Option.objects.create(key="default_price_enabled", value=True)

    await sync_to_async(enable_default)()
    response = await post(async_client, URL, {**CHAT, "model": "unpriced"}, key)
    assert response.status_code == 200


async def test_only_admins_may_pin_a_channel(async_client, fake_openai):
    def world():
        make_price()
        pinned = make_channel(base_url=fake_openai.url, name="pinned", keys=["sk-pinned-key-0001"],
                              priority=-5)
        make_channel(base_url=fake_openai.url, name="main", priority=10)
        root = make_user("root", role="root")
        return pinned, make_token(root)[1], make_token(make_user())[1]

    pinned, root_key, user_key = await sync_to_async(world)()
    response = await post(async_client, URL, CHAT, f"{root_key}-{pinned.pk}")
    assert response.status_code == 200
    assert fake_openai.last.headers["authorization"] == "Bearer sk-pinned-key-0001"
    await refused(async_client, key=f"{user_key}-{pinned.pk}", status=403,
                  code="channel_pin_not_allowed")
    await refused(async_client, key=f"{root_key}-999999", status=400, code="invalid_channel")


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "invalid_json"),
    (orjson.dumps({"messages": CHAT["messages"]}), "missing_model"),
    (orjson.dumps({"model": 5, "messages": []}), "invalid_model"),
    (orjson.dumps({"model": "gpt-4o-mini"}), "missing_required_parameter"),
    (orjson.dumps({**CHAT, "messages": "hi"}), "invalid_request"),
    (orjson.dumps({**CHAT, "stream": "yes"}), "invalid_type"),
    (orjson.dumps({**CHAT, "max_tokens": "many"}), "invalid_type"),
])
async def test_bad_input_is_a_400_and_charges_nothing(async_client, world, body, code):
    _user, key = world
    await refused(async_client, body, key, status=400, code=code)
    assert await flushed_logs() == []


async def test_a_body_over_the_limit_is_refused_with_413(async_client, world, settings):
    settings.MAX_REQUEST_BODY_MB = 1
    _user, key = world
    huge = {**CHAT, "messages": [{"role": "user", "content": "x" * (1 << 20)}]}
    await refused(async_client, huge, key, status=413, code="request_too_large")


async def test_an_unsupported_content_type_is_refused_with_415(async_client, world):
    _user, key = world
    await refused(async_client, b"<xml/>", key, status=415, code="unsupported_content_type",
                  content_type="application/xml")


async def test_multipart_without_a_file_is_refused_with_400(async_client, world):
    _user, key = world
    response = await async_client.post("/v1/audio/transcriptions", {"model": "whisper-1"},
                                       headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 400
    assert error_of(response)["param"] == "file"


async def test_unknown_v1_paths_are_a_404_in_openai_shape(async_client, world):
    response = await async_client.get("/v1/nope/nothing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "unknown_url"
    assert response["X-Request-Id"]


async def test_the_wrong_method_is_a_405_in_openai_shape(async_client, world):
    response = await async_client.get(URL)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


async def test_a_group_ratio_scales_the_charge(async_client, fake_openai):
    def world():
        make_price()
        make_group("vip", ratio="0.5")
        make_channel(base_url=fake_openai.url, groups=["default", "vip"])
        return make_token(make_user(group="vip"))[1]

    key = await sync_to_async(world)()
    await post(async_client, URL, CHAT, key)
    [log] = await flushed_logs()
    assert log.quota == 4 and log.price["group_ratio"] == "0.5000"  # ceil(6.5 * 0.5)
