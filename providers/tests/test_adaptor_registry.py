"""Registry: one list of providers, every entry importable, errors scrubbed."""

from __future__ import annotations

import pytest

from providers import registry
from providers.base import Adaptor, ProviderInfo
from providers.errors import RelayError, from_upstream, scrub
from providers.openai import OpenAIAdaptor
from providers.spec import ChannelSpec


def test_every_registered_provider_imports() -> None:
    assert registry.check_registry() == []


def test_choices_list_every_provider_once_with_lowercase_ids() -> None:
    ids = [pid for pid, _ in registry.PROVIDER_CHOICES]
    assert len(ids) == len(set(ids)) and all(pid == pid.lower() for pid in ids)
    assert {"openai", "azure", "anthropic", "deepseek", "vllm", "custom"} <= set(ids)


def test_compatible_providers_share_the_openai_adaptor_as_data() -> None:
    adaptor = registry.get_adaptor("deepseek")
    assert type(adaptor) is OpenAIAdaptor and adaptor.provider.id == "deepseek"
    assert registry.get_adaptor("deepseek") is adaptor  # cached
    assert registry.default_base_url("vllm") == ""
    assert registry.default_base_url("ollama") == "http://localhost:11434"


def test_a_broken_entry_is_reported_by_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ProviderInfo("broken", "Broken", "providers.nope.NopeAdaptor")
    monkeypatch.setattr(registry, "PROVIDERS", (*registry.PROVIDERS, broken))
    problems = registry.check_registry()
    assert len(problems) == 1 and "broken" in problems[0]


def test_the_model_mapping_falls_back_to_the_requested_name() -> None:
    spec = ChannelSpec(1, "openai", "", "k", model_mapping={"fast": "gpt-4o-mini"})
    assert spec.upstream_model("fast") == "gpt-4o-mini"
    assert spec.upstream_model("gpt-4o") == "gpt-4o"


def test_scrub_removes_keys_urls_hosts_and_addresses() -> None:
    text = ("Incorrect API key provided: sk-live-abcdef123456. See "
            "https://platform.openai.com/account/api-keys or call api.openai.com:443 "
            "from 10.0.0.12:8080 with secret-xyz-123")
    clean = scrub(text, ["secret-xyz-123"])
    for leaked in ("sk-live", "platform.openai.com", "api.openai.com", "10.0.0.12",
                   "secret-xyz"):
        assert leaked not in clean
    assert clean.startswith("Incorrect API key provided")


@pytest.mark.parametrize(("status", "code", "retryable", "dead", "out"), [
    (400, "", False, False, 400), (401, "invalid_api_key", True, True, 502),
    (403, "", True, False, 502), (404, "model_not_found", True, False, 404),
    (429, "rate_limit_exceeded", True, False, 429), (429, "insufficient_quota", True, True, 502),
    (500, "", True, False, 502), (503, "", True, False, 503),
])
def test_upstream_statuses_map_to_a_failover_policy(status, code, retryable, dead, out) -> None:
    err = from_upstream(status, "boom", code, None)
    assert (err.retryable, err.disable_key, err.status) == (retryable, dead, out)
    assert err.upstream_status == status


def test_a_relay_error_serialises_to_the_openai_error_shape() -> None:
    err = RelayError(400, "bad", "nope", type="invalid_request_error", param="model")
    assert err.to_dict() == {"error": {"message": "nope", "type": "invalid_request_error",
                                       "code": "bad", "param": "model"}}


def test_adaptor_subclasses_must_implement_conversions() -> None:
    with pytest.raises(NotImplementedError):
        Adaptor(registry.provider_info("openai")).request_url(
            ChannelSpec(1, "openai", "", "k"), None, "m")  # type: ignore[arg-type]
