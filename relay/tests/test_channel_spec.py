"""The relay's routing table and channels_app's tests and balance queries hand adaptors the
same frozen `ChannelSpec` for the same channel and key: it is built in one place."""

from __future__ import annotations

import pytest

from channels_app.models import Channel
from channels_app.services import channel_spec
from conftest import make_channel
from relay.snapshot import load_routing

CONFIG = {"api_version": "2024-10-21"}
MAPPING = {"fast": "gpt-4o-mini"}


def _both_specs(channel: Channel):
    key = channel.keys.get()
    return channel_spec(channel, key), load_routing().channels[channel.pk].spec(key.key)


@pytest.mark.django_db
def test_the_relay_and_channel_tests_build_equal_read_only_specs_for_one_channel_and_key():
    channel = make_channel("azure", type="azure", base_url="https://res.openai.azure.com",
                           config=CONFIG, model_mapping=MAPPING)
    tested, relayed = _both_specs(channel)
    assert tested == relayed
    assert (relayed.provider, relayed.base_url, relayed.key) == (
        "azure", "https://res.openai.azure.com", "sk-upstream-azure-0000-secret")
    for spec in (tested, relayed):
        assert dict(spec.config) == CONFIG and dict(spec.model_mapping) == MAPPING
        with pytest.raises(TypeError):
            spec.config["api_version"] = "changed"  # type: ignore[index]
        with pytest.raises(TypeError):
            spec.model_mapping["fast"] = "changed"  # type: ignore[index]


@pytest.mark.django_db
def test_a_model_mapping_stored_as_json_text_reads_the_same_on_both_paths():
    channel = make_channel("texty", model_mapping='{"fast": "gpt-4o-mini"}')
    assert Channel.objects.get(pk=channel.pk).model_mapping == '{"fast": "gpt-4o-mini"}'
    tested, relayed = _both_specs(channel)
    assert tested == relayed
    assert dict(relayed.model_mapping) == MAPPING
    assert relayed.upstream_model("fast") == "gpt-4o-mini"


@pytest.mark.django_db
def test_a_channel_whose_config_is_no_json_object_is_left_out_and_the_others_still_route():
    good = make_channel("good")
    bad = make_channel("bad")
    Channel.objects.filter(pk=bad.pk).update(config=["not", "an", "object"])
    assert set(load_routing().channels) == {good.pk}
