"""Through the real /v1 view: a channel failing live traffic is routed around from the
request after the one that crossed the error-rate threshold, with no restart."""

import pytest
from asgiref.sync import sync_to_async

from billing.models import Option
from conftest import make_channel, make_price, make_token, make_user
from relay.health import cooling
from relay.tests.helpers import CHAT, post
from relay.tests.test_health import close_sync_thread_connections, reset_health

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/v1/chat/completions"


@pytest.fixture(autouse=True)
def _fresh_relay(settings):
    from billing import quota
    from relay import client as relay_client
    from relay.snapshot import snapshot

    settings.RELAY_CACHE_CHECK_MS = 0
    settings.RUN_EMBEDDED_JOBS = False
    settings.NOTIFY_EMAIL = []
    snapshot.reset()
    quota.reset_memory_backend()
    reset_health()
    relay_client.set_client_factory(None)
    yield
    snapshot.reset()
    relay_client.set_client_factory(None)
    cooling.clear()
    close_sync_thread_connections()


def world(url):
    for key, value in {"auto_disable_min_requests": 3, "auto_disable_error_rate": 0.5,
                       "retry_times": 2}.items():
        Option.objects.update_or_create(key=key, defaults={"value": value})
    make_price()
    broken = make_channel(base_url=url, name="broken", keys=["variant-500"], priority=10)
    spare = make_channel(base_url=url, name="spare", keys=["sk-spare-good-0001"], priority=0)
    return broken, spare, make_token(make_user())[1]


def upstream_keys(fake):
    return [r.headers["authorization"][7:] for r in fake.requests]


async def test_a_failing_channel_is_skipped_from_the_request_after_the_threshold(
        async_client, fake_openai):
    broken, _spare, key = await sync_to_async(world)(fake_openai.url)
    for _ in range(3):  # each request fails over: broken (500) then spare (200)
        assert (await post(async_client, URL, CHAT, key)).status_code == 200
    assert upstream_keys(fake_openai).count("variant-500") == 3
    assert cooling.is_cooling(broken.pk, "gpt-4o-mini")
    fake_openai.requests.clear()
    for _ in range(3):
        assert (await post(async_client, URL, CHAT, key)).status_code == 200
    assert upstream_keys(fake_openai) == ["sk-spare-good-0001"] * 3


async def test_the_channel_takes_traffic_again_once_cooling_ends(async_client, fake_openai):
    broken, _spare, key = await sync_to_async(world)(fake_openai.url)
    for _ in range(3):
        await post(async_client, URL, CHAT, key)
    await sync_to_async(cooling.end_cooling)(broken.pk, "")
    fake_openai.requests.clear()
    await post(async_client, URL, CHAT, key)
    assert upstream_keys(fake_openai)[0] == "variant-500"
