"""Channel tests and balance refreshes against the real fake upstream servers."""

from decimal import Decimal

import pytest

from billing.models import Log, LogType, Option
from channels_app import services
from channels_app.models import Ability, ChannelStatus, KeyStatus
from conftest import make_channel
from core import executor, options
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import Recorded, ServerThread, json_reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.NOTIFY_EMAIL = []
    settings.NOTIFY_WEBHOOK_URL = ""
    options._snapshot = None
    yield
    executor.wait_idle()


def option(key, value):
    Option.objects.update_or_create(key=key, defaults={"value": value})


def upstream_channel(fake, name="up", **fields):
    return make_channel(name, base_url=fake.url, **fields)


def test_a_passing_test_records_time_and_latency_on_the_channel_and_each_key(fake_openai):
    channel = upstream_channel(fake_openai, keys=2, test_model="gpt-4o")
    result = services.test_channel(channel)
    assert result.ok and result.model == "gpt-4o" and len(result.keys) == 2
    channel.refresh_from_db()
    assert channel.tested_at and channel.response_ms is not None
    assert all(k.tested_at and k.response_ms is not None and not k.last_error
               for k in channel.keys.all())
    body = fake_openai.last.json()
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [{"role": "user", "content": "Say OK."}]
    assert len(fake_openai.requests) == 2  # one request per key


def test_without_a_test_model_the_first_listed_model_is_used_with_the_option_prompt(
        fake_openai):
    option("test_prompt", "ping")
    channel = upstream_channel(fake_openai, models=("m-first", "m-second"))
    services.test_channel(channel)
    assert fake_openai.last.json()["model"] == "m-first"
    assert fake_openai.last.json()["messages"][0]["content"] == "ping"


def test_an_auto_disabled_channel_that_passes_comes_back_with_the_reason(fake_openai):
    channel = upstream_channel(fake_openai)
    services.set_channel_status(channel, ChannelStatus.AUTO_DISABLED, "too many errors")
    assert not Ability.objects.filter(channel=channel).exists()
    result = services.test_channel(channel)
    channel.refresh_from_db()
    assert result.status == channel.status == ChannelStatus.ENABLED
    assert channel.status_reason.startswith("passed a test") and channel.status_changed_at
    assert Ability.objects.filter(channel=channel).exists()
    assert Log.objects.filter(type=LogType.SYSTEM, channel=channel,
                              content__contains="is now Enabled").exists()


def test_a_manually_disabled_channel_is_never_re_enabled_by_a_test(fake_openai):
    channel = upstream_channel(fake_openai)
    services.set_channel_status(channel, ChannelStatus.DISABLED, "maintenance")
    result = services.test_channel(channel)
    channel.refresh_from_db()
    assert result.ok
    assert (channel.status, channel.status_reason) == (ChannelStatus.DISABLED, "maintenance")


def test_auto_enable_can_be_turned_off(fake_openai):
    option("auto_enable_enabled", False)
    channel = upstream_channel(fake_openai)
    services.set_channel_status(channel, ChannelStatus.AUTO_DISABLED, "errors")
    services.test_channel(channel)
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.AUTO_DISABLED


def test_a_test_slower_than_the_latency_limit_disables_the_channel(fake_openai):
    option("channel_disable_latency_ms", 100)
    fake_openai.variant, fake_openai.delay = "slow_first_byte", 0.3
    channel = upstream_channel(fake_openai)
    result = services.test_channel(channel)
    channel.refresh_from_db()
    assert result.ok and result.response_ms >= 300
    assert channel.status == ChannelStatus.AUTO_DISABLED
    assert "limit 100 ms" in channel.status_reason


def test_a_key_the_upstream_rejects_is_disabled_and_takes_the_channel_down_with_it(
        fake_openai):
    fake_openai.variant = "401"
    channel = upstream_channel(fake_openai)
    result = services.test_channel(channel)
    key = channel.keys.get()
    channel.refresh_from_db()
    assert not result.ok and result.keys[0].key_invalid
    assert key.status == KeyStatus.AUTO_DISABLED and "Incorrect API key" in key.last_error
    assert channel.status == ChannelStatus.AUTO_DISABLED
    assert "sk-upstream" not in key.status_reason  # the key never leaks into reasons
    fake_openai.variant = None
    services.test_channel(channel)  # the key is fixed upstream: both come back
    key.refresh_from_db()
    channel.refresh_from_db()
    assert (key.status, channel.status) == (KeyStatus.ENABLED, ChannelStatus.ENABLED)


def test_a_rate_limited_test_records_the_error_and_disables_nothing(fake_openai):
    fake_openai.variant = "429"
    channel = upstream_channel(fake_openai)
    result = services.test_channel(channel)
    channel.refresh_from_db()
    key = channel.keys.get()
    assert not result.ok and "Rate limit" in result.error
    assert (channel.status, key.status) == (ChannelStatus.ENABLED, KeyStatus.ENABLED)
    assert "Rate limit" in key.last_error


def test_a_passing_test_is_announced_on_core_signals_for_the_relay_to_end_cooling(
        fake_openai):
    from core import signals

    heard = []
    signals.channel_passed_test.connect(lambda sender, **kw: heard.append(kw),
                                        dispatch_uid="test-spy", weak=False)
    try:
        channel = upstream_channel(fake_openai)
        services.test_channel(channel)
        fake_openai.variant = "500"
        services.test_channel(channel)
    finally:
        signals.channel_passed_test.disconnect(dispatch_uid="test-spy")
    assert [(kw["channel_id"], kw["model"]) for kw in heard] == [(channel.pk, "gpt-4o-mini")]


def test_a_channel_without_models_cannot_be_tested(db):
    channel = make_channel("empty", models=())
    with pytest.raises(services.ChannelError, match="no model to test"):
        services.test_channel(channel)


class FakeDeepSeek(FakeOpenAI):
    """The fake OpenAI upstream plus DeepSeek's balance endpoint."""

    balance = "12.50"

    async def handle(self, req: Recorded):
        if req.path == "/user/balance":
            return json_reply({"is_available": True, "balance_infos": [
                {"currency": "USD", "total_balance": self.balance,
                 "granted_balance": "0.00", "topped_up_balance": self.balance}]})
        return await super().handle(req)


@pytest.fixture(scope="module")
def deepseek():
    server = ServerThread(FakeDeepSeek()).start()
    server.app.url = server.url
    yield server.app
    server.stop()


def test_refresh_balance_stores_amount_and_currency(deepseek):
    channel = make_channel("ds", type="deepseek", base_url=deepseek.url)
    assert services.supports_balance(channel)
    assert services.refresh_balance(channel) == Decimal("12.5")
    channel.refresh_from_db()
    assert (channel.balance, channel.balance_currency) == (Decimal("12.5"), "USD")
    assert channel.balance_updated_at
    assert deepseek.last.headers["authorization"].startswith("Bearer sk-upstream-ds")


def test_a_balance_under_the_threshold_warns_the_operator_once(deepseek, settings, mailoutbox):
    settings.NOTIFY_EMAIL = ["ops@example.com"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    channel = make_channel("low", type="deepseek", base_url=deepseek.url,
                           balance_threshold=Decimal("20"))
    services.refresh_balance(channel)
    services.refresh_balance(channel)
    executor.wait_idle()
    warnings = [m for m in mailoutbox if "balance is low" in m.subject]
    assert len(warnings) == 1 and "12.5000 USD left" in warnings[0].body


def test_providers_without_a_balance_api_return_none(fake_openai):
    channel = make_channel("az", type="anthropic", base_url=fake_openai.url)
    assert not services.supports_balance(channel)
    assert services.refresh_balance(channel) is None


def test_a_failing_balance_query_raises_a_clear_error(fake_openai):
    channel = make_channel("oa", type="openai", base_url=fake_openai.url)
    with pytest.raises(services.ChannelError, match="balance of channel oa"):
        services.refresh_balance(channel)  # the fake has no billing endpoint: 404
