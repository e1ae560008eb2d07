"""Azure OpenAI adaptor: OpenAI's contract behind deployment URLs and the `api-key` header."""

from __future__ import annotations

from providers.base import Endpoint
from providers.registry import get_adaptor
from providers.spec import ChannelSpec
from providers.tests.contract import AdaptorContract
from providers.tests.fakes.fixtures import fake_openai, openai_server  # noqa: F401
from providers.tests.fakes.openai_server import FakeOpenAI
from providers.tests.fakes.server import Recorded


class TestAzureContract(AdaptorContract):
    provider = "azure"
    fake_class = FakeOpenAI
    server_fixture = "fake_openai"
    model = "gpt-4o-mini"
    usage = (9, 2, 3)

    def sent_key(self, req: Recorded) -> str:
        assert "authorization" not in req.headers
        return req.headers["api-key"]

    def sent_model(self, req: Recorded) -> str:
        return req.path.split("/")[3]  # /openai/deployments/<deployment>/...


def azure(config: dict | None = None) -> ChannelSpec:
    return ChannelSpec(id=3, provider="azure", base_url="https://res.openai.azure.com/",
                       key="k", config=config or {})


def test_it_targets_the_deployment_url_with_the_api_version() -> None:
    url = get_adaptor("azure").request_url(azure(), Endpoint.chat_completions, "gpt-4o")
    assert url == ("https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
                   "?api-version=2024-10-21")


def test_it_drops_dots_from_the_model_to_name_the_deployment() -> None:
    url = get_adaptor("azure").request_url(azure({"api_version": "2025-01-01-preview"}),
                                           Endpoint.embeddings, "gpt-3.5-turbo")
    assert "/deployments/gpt-35-turbo/embeddings?api-version=2025-01-01-preview" in url


def test_a_configured_deployment_name_wins_over_the_model_name() -> None:
    spec = azure({"deployments": {"gpt-4.1": "prod-gpt41"}})
    url = get_adaptor("azure").request_url(spec, Endpoint.chat_completions, "gpt-4.1")
    assert "/deployments/prod-gpt41/" in url


def test_it_does_not_offer_endpoints_azure_lacks() -> None:
    adaptor = get_adaptor("azure")
    assert adaptor.supports(Endpoint.audio_transcriptions)
    assert not adaptor.supports(Endpoint.rerank) and not adaptor.supports(Endpoint.responses)
