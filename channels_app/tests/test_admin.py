"""The channel admin: actions through the changelist, the write-only key inline, field
errors for bad input, and history kept when a channel is deleted."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing.models import Group, Log, LogType
from channels_app.models import Ability, Channel, ChannelKey, ChannelStatus, KeyStatus
from conftest import make_channel
from core import executor
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import Recorded, ServerThread, json_reply

CHANGELIST = "admin:channels_app_channel_changelist"


def run_action(client, action, channels):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [c.pk for c in channels]},
        follow=True,
    )


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def quiet_health(settings):
    settings.NOTIFY_EMAIL = []
    settings.NOTIFY_WEBHOOK_URL = ""
    yield
    executor.wait_idle()


def test_disable_and_enable_actions_change_status_and_routing(operator_client, quiet_health):
    channel = make_channel("a")
    run_action(operator_client, "disable", [channel])
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.DISABLED
    assert "operator" in channel.status_reason
    assert not Ability.objects.filter(channel=channel).exists()
    response = run_action(operator_client, "enable", [channel])
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.ENABLED
    assert Ability.objects.filter(channel=channel).count() == 1
    assert any("enabled" in text.lower() for text in texts(response))


@pytest.mark.django_db(transaction=True)
def test_testing_channels_now_reports_each_result_and_its_latency(
    client, fake_openai, quiet_health
):
    from conftest import make_user

    client.force_login(make_user("op", role="admin"))
    good = make_channel("good", base_url=fake_openai.url, models=["gpt-4o-mini"])
    bad = make_channel("bad", base_url=fake_openai.url, models=["variant-500"])
    response = run_action(client, "test_now", [good, bad])
    messages = texts(response)
    good_line = next(m for m in messages if m.startswith("good"))
    bad_line = next(m for m in messages if m.startswith("bad"))
    assert "OK in" in good_line and " ms" in good_line
    assert "failed after" in bad_line
    good.refresh_from_db()
    assert good.tested_at is not None and good.response_ms is not None


class FakeBalance(FakeOpenAI):
    async def handle(self, req: Recorded):
        if req.path == "/user/balance":
            info = {"currency": "USD", "total_balance": "42.00"}
            return json_reply({"is_available": True, "balance_infos": [info]})
        return await super().handle(req)


@pytest.fixture
def balance_server():
    server = ServerThread(FakeBalance()).start()
    server.app.url = server.url
    yield server.app
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_refreshing_balances_stores_and_reports_each_amount(client, balance_server, quiet_health):
    from conftest import make_user

    client.force_login(make_user("op", role="admin"))
    channel = make_channel("ds", type="deepseek", base_url=balance_server.url)
    no_api = make_channel("plain", type="custom", base_url=balance_server.url)
    response = run_action(client, "refresh_balances", [channel, no_api])
    channel.refresh_from_db()
    assert channel.balance == Decimal("42")
    messages = texts(response)
    assert any("ds: balance 42.00 USD" in m for m in messages)
    assert any(m.startswith("plain") for m in messages)


def test_duplicating_a_channel_copies_its_keys_and_groups(operator_client):
    vip = Group.objects.create(name="vip")
    channel = make_channel("orig", keys=3, groups=[vip], priority=5, tag="eu")
    ChannelKey.objects.filter(channel=channel).first().delete()
    run_action(operator_client, "duplicate", [channel])
    copy = Channel.objects.exclude(pk=channel.pk).get()
    assert copy.name == "orig (copy)"
    assert (copy.priority, copy.tag, copy.type) == (5, "eu", "openai")
    assert sorted(copy.keys.values_list("key", flat=True)) == sorted(
        channel.keys.values_list("key", flat=True)
    )
    assert list(copy.groups.all()) == [vip]
    assert Ability.objects.filter(channel=copy, group=vip).count() == 1


def test_the_changelist_never_shows_a_channel_key(operator_client):
    channel = make_channel("masked")
    response = operator_client.get(reverse(CHANGELIST))
    key = channel.keys.get().key
    assert key not in response.content.decode()
    keys_page = operator_client.get(reverse("admin:channels_app_channelkey_changelist"))
    html = keys_page.content.decode()
    assert key not in html and channel.keys.get().masked() in html


def change_form_data(channel, **overrides):
    keys = list(channel.keys.all())
    data = {
        "type": channel.type, "name": channel.name, "tag": "", "base_url": "",
        "config": "{}", "model_names": ", ".join(channel.model_names),
        "model_mapping": "{}", "groups": [g.pk for g in channel.groups.all()],
        "priority": "0", "weight": "1", "status": channel.status, "status_reason": "",
        "test_model": "", "balance_threshold": "", "new_keys": "",
        "keys-TOTAL_FORMS": str(len(keys) + 1), "keys-INITIAL_FORMS": str(len(keys)),
        "keys-MIN_NUM_FORMS": "0", "keys-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    for index, key in enumerate(keys):
        data |= {
            f"keys-{index}-id": str(key.pk), f"keys-{index}-channel": str(channel.pk),
            f"keys-{index}-key": "", f"keys-{index}-status": key.status,
            f"keys-{index}-status_reason": "",
        }  # fmt: skip
    return data | overrides


def test_the_change_form_never_renders_a_stored_key(operator_client):
    channel = make_channel("form")
    url = reverse("admin:channels_app_channel_change", args=[channel.pk])
    html = operator_client.get(url).content.decode()
    assert channel.keys.get().key not in html
    assert channel.keys.get().masked() in html  # as the placeholder


def test_keys_are_edited_inline_each_with_its_status_and_blank_keeps_the_key(operator_client):
    channel = make_channel("inline", keys=2)
    first, second = channel.keys.all()
    url = reverse("admin:channels_app_channel_change", args=[channel.pk])
    data = change_form_data(channel)
    data |= {"keys-1-status": KeyStatus.DISABLED, "keys-2-key": "sk-brand-new-key-000000"}
    data |= {"keys-2-status": KeyStatus.ENABLED, "keys-2-status_reason": ""}
    data |= {"new_keys": "sk-pasted-one-0000000\nsk-pasted-two-0000000\n"}
    response = operator_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.key.startswith("sk-upstream-inline-0000") and first.status == KeyStatus.ENABLED
    assert second.status == KeyStatus.DISABLED
    assert set(channel.keys.values_list("key", flat=True)) >= {
        "sk-brand-new-key-000000", "sk-pasted-one-0000000", "sk-pasted-two-0000000",
    }  # fmt: skip
    assert channel.keys.count() == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_mapping", "{not json"),
        ("model_mapping", '{"gpt-4o": 5}'),
        ("type", "no-such-provider"),
        ("config", "[1, 2]"),
        ("base_url", "not a url"),
    ],
)
def test_bad_input_is_an_error_on_its_field_and_nothing_is_saved(operator_client, field, value):
    channel = make_channel("strict")
    url = reverse("admin:channels_app_channel_change", args=[channel.pk])
    response = operator_client.post(url, change_form_data(channel, **{field: value}))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    channel.refresh_from_db()
    assert channel.model_mapping == {} and channel.type == "openai" and channel.config == {}


def test_a_new_channel_is_created_from_the_add_form_with_pasted_keys(operator_client):
    group = Group.objects.get_or_create(name="default")[0]
    data = {
        "type": "openai", "name": "fresh", "base_url": "", "config": "", "tag": "",
        "model_names": "gpt-4o, gpt-4o-mini", "model_mapping": '{"gpt4": "gpt-4o"}',
        "groups": [group.pk], "priority": "1", "weight": "2", "status": "enabled",
        "status_reason": "", "test_model": "", "balance_threshold": "",
        "new_keys": "sk-one-000000000000\nsk-two-000000000000",
        "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0",
        "keys-MIN_NUM_FORMS": "0", "keys-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = operator_client.post(reverse("admin:channels_app_channel_add"), data)
    assert response.status_code == 302
    channel = Channel.objects.get(name="fresh")
    assert channel.keys.count() == 2
    assert set(Ability.objects.filter(channel=channel).values_list("model", flat=True)) == {
        "gpt-4o", "gpt-4o-mini", "gpt4",
    }  # fmt: skip


def test_deleting_a_channel_keeps_its_logs(operator_client):
    channel = make_channel("gone")
    log = Log.objects.create(type=LogType.CONSUME, channel=channel, model="gpt-4o", quota=7)
    url = reverse("admin:channels_app_channel_delete", args=[channel.pk])
    response = operator_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Channel.objects.filter(pk=channel.pk).exists()
    log.refresh_from_db()
    assert log.channel_id is None and log.quota == 7


def test_the_routing_index_is_visible_but_read_only(operator_client):
    make_channel("r")
    ability = Ability.objects.get()
    assert operator_client.get(reverse("admin:channels_app_ability_changelist")).status_code == 200
    change = operator_client.get(reverse("admin:channels_app_ability_change", args=[ability.pk]))
    assert change.status_code == 200
    assert b'name="model"' not in change.content  # shown, not editable
    assert operator_client.get(reverse("admin:channels_app_ability_add")).status_code == 403
