"""Channels through the API: plain JSON types, write-only keys, routing kept exact."""

import pytest

from channels_app.models import Ability, Channel, ChannelKey, ChannelStatus, KeyStatus
from conftest import make_channel
from core import cachebus

pytestmark = pytest.mark.django_db

NEW_CHANNEL = {
    "type": "openai",
    "name": "primary",
    "models": ["gpt-4o-mini", "gpt-4o"],
    "model_mapping": {"gpt-4o": "gpt-4o-2024-08-06"},
    "groups": ["default"],
    "priority": 5,
    "weight": 3,
    "keys": ["sk-first-secret-key-0001", "sk-second-secret-key-0002"],
    "config": {"organization": "org-1", "secret_key": "hidden"},
}


def test_it_creates_a_channel_with_several_keys_and_never_returns_them(
    staff_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post("/api/channels/", NEW_CHANNEL, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secret-key" not in response.content.decode()
    assert "keys" not in body
    assert [k["key"] for k in body["masked_keys"]] == ["sk-f…0001", "sk-s…0002"]
    assert {k["status"] for k in body["masked_keys"]} == {"enabled"}
    assert body["type"] == "openai" and body["status"] == "enabled"
    assert body["models"] == ["gpt-4o-mini", "gpt-4o"]
    assert body["groups"] == ["default"]
    assert body["config"] == {"organization": "org-1", "secret_key": "****"}
    channel = Channel.objects.get(pk=body["id"])
    assert channel.config["secret_key"] == "hidden"
    assert ChannelKey.objects.filter(channel=channel).count() == 2
    assert set(Ability.objects.filter(channel=channel).values_list("model", flat=True)) == {
        "gpt-4o-mini", "gpt-4o"}
    assert cachebus.versions("routing")[0] > 0


def test_it_reports_field_errors_for_a_bad_channel(staff_api):
    bad = {**NEW_CHANNEL, "type": "nope", "models": "gpt-4o", "groups": ["ghost"]}
    bad.pop("keys")
    response = staff_api.post("/api/channels/", bad, format="json")
    assert response.status_code == 400
    assert set(response.json()) >= {"type", "models", "groups", "keys"}


def test_it_rejects_a_model_mapping_that_is_not_names_to_names(staff_api):
    bad = {**NEW_CHANNEL, "model_mapping": {"gpt-4o": ""}}
    response = staff_api.post("/api/channels/", bad, format="json")
    assert response.status_code == 400
    assert "model_mapping" in response.json()


def test_replacing_keys_keeps_the_status_of_keys_that_stay(staff_api):
    channel = make_channel("c", keys=2)
    kept, dropped = channel.keys.all()
    ChannelKey.objects.filter(pk=kept.pk).update(status=KeyStatus.AUTO_DISABLED)
    response = staff_api.patch(f"/api/channels/{channel.pk}/",
                               {"keys": [kept.key, "sk-brand-new-key-9999"]}, format="json")
    assert response.status_code == 200, response.json()
    keys = {k.key: k.status for k in channel.keys.all()}
    assert keys == {kept.key: KeyStatus.AUTO_DISABLED, "sk-brand-new-key-9999": "enabled"}
    assert not ChannelKey.objects.filter(pk=dropped.pk).exists()


def test_a_masked_config_secret_sent_back_keeps_the_stored_one(staff_api):
    channel = make_channel("c", config={"secret_key": "real", "region": "us"})
    response = staff_api.patch(f"/api/channels/{channel.pk}/",
                               {"config": {"secret_key": "****", "region": "eu"}}, format="json")
    assert response.status_code == 200
    channel.refresh_from_db()
    assert channel.config == {"secret_key": "real", "region": "eu"}


def test_disabling_a_channel_through_the_api_takes_it_out_of_routing(staff_api):
    channel = make_channel("c")
    assert Ability.objects.filter(channel=channel).exists()
    response = staff_api.patch(f"/api/channels/{channel.pk}/", {"status": "disabled"},
                               format="json")
    assert response.status_code == 200
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.DISABLED
    assert "root" in channel.status_reason
    assert not Ability.objects.filter(channel=channel).exists()


def test_changing_groups_rebuilds_routing(staff_api):
    from billing.models import Group

    Group.objects.create(name="vip")
    channel = make_channel("c")
    staff_api.patch(f"/api/channels/{channel.pk}/", {"groups": ["vip"]}, format="json")
    groups = set(Ability.objects.filter(channel=channel).values_list("group__name", flat=True))
    assert groups == {"vip"}


def test_it_lists_filters_and_searches_channels(staff_api):
    make_channel("alpha", type="openai", tag="eu")
    make_channel("beta", type="anthropic", models=("claude-3-5-haiku",))
    assert staff_api.get("/api/channels/").json()["count"] == 2
    by_type = staff_api.get("/api/channels/?type=anthropic").json()["results"]
    assert [c["name"] for c in by_type] == ["beta"]
    assert [c["name"] for c in staff_api.get("/api/channels/?search=alp").json()["results"]] == [
        "alpha"]
    assert staff_api.get("/api/channels/?tag=eu").json()["count"] == 1
    assert staff_api.get("/api/channels/?type=bogus").status_code == 400


def test_deleting_a_channel_removes_its_routing(staff_api):
    channel = make_channel("c")
    assert staff_api.delete(f"/api/channels/{channel.pk}/").status_code == 204
    assert not Ability.objects.filter(channel_id=channel.pk).exists()
    assert staff_api.get(f"/api/channels/{channel.pk}/").status_code == 404


def test_the_test_action_runs_a_real_request_and_reports_latency(staff_api, fake_openai):
    channel = make_channel("c", base_url=fake_openai.url)
    response = staff_api.post(f"/api/channels/{channel.pk}/test/", {}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["ok"] is True and body["model"] == "gpt-4o-mini"
    assert body["response_ms"] >= 0 and body["status"] == "enabled"
    assert body["keys"][0]["ok"] is True
    assert fake_openai.requests[-1].path.endswith("/chat/completions")
    channel.refresh_from_db()
    assert channel.tested_at is not None


def test_the_test_action_reports_a_dead_key(staff_api, fake_openai):
    channel = make_channel("c", base_url=fake_openai.url)
    fake_openai.variant = "401"
    body = staff_api.post(f"/api/channels/{channel.pk}/test/", {}, format="json").json()
    assert body["ok"] is False
    assert body["keys"][0]["status"] == 401


def test_the_balance_action_says_when_a_provider_has_no_balance_api(staff_api):
    channel = make_channel("c", type="anthropic", models=("claude-3-5-haiku",))
    response = staff_api.post(f"/api/channels/{channel.pk}/balance/")
    assert response.status_code == 200
    assert response.json() == {"supported": False, "balance": None, "currency": "",
                               "balance_updated_at": None}
