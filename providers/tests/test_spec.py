"""`channel_spec`, the one constructor of `ChannelSpec` (pure: plain values in)."""

from __future__ import annotations

import pytest

from providers.spec import channel_spec


def test_a_spec_holds_read_only_copies_of_the_channel_fields():
    config, mapping = {"api_version": "v"}, {"fast": "gpt-4o-mini"}
    spec = channel_spec(4, "azure", None, "sk-1", config=config, model_mapping=mapping)
    config["api_version"], mapping["fast"] = "changed", "changed"
    assert (spec.base_url, dict(spec.config), dict(spec.model_mapping)) == (
        "", {"api_version": "v"}, {"fast": "gpt-4o-mini"})
    with pytest.raises(TypeError):
        spec.config["x"] = 1  # type: ignore[index]


def test_json_text_and_empty_values_read_as_objects():
    spec = channel_spec(1, "openai", "", "k", config="", model_mapping='{"a": "b"}')
    assert (dict(spec.config), spec.upstream_model("a"), spec.upstream_model("c")) == (
        {}, "b", "c")
    assert channel_spec(1, "openai", "", "k") == channel_spec(1, "openai", "", "k",
                                                               config={}, model_mapping=None)


@pytest.mark.parametrize("bad", ["[1, 2]", "not json", ["a"], 3])
def test_a_field_that_is_no_json_object_is_refused(bad):
    with pytest.raises(ValueError):
        channel_spec(1, "openai", "", "k", model_mapping=bad)
