"""Azure OpenAI: the OpenAI wire format behind per-deployment URLs and an `api-key` header.

URL: `{base}/openai/deployments/{deployment}/{task}?api-version={version}`
https://learn.microsoft.com/azure/ai-services/openai/reference
Channel config: `api_version` (default below), `deployments` {model: deployment name}.
"""

from __future__ import annotations

from urllib.parse import quote

from providers.base import Endpoint
from providers.openai import OpenAIAdaptor
from providers.spec import ChannelSpec

DEFAULT_API_VERSION = "2024-10-21"


class AzureAdaptor(OpenAIAdaptor):
    """Only URL and headers differ from OpenAI; bodies and responses are the same."""

    supported = frozenset({
        Endpoint.chat_completions, Endpoint.completions, Endpoint.embeddings,
        Endpoint.images_generations, Endpoint.images_edits, Endpoint.audio_speech,
        Endpoint.audio_transcriptions, Endpoint.audio_translations, Endpoint.models,
    })

    def deployment(self, spec: ChannelSpec, upstream_model: str) -> str:
        """Deployment name: `config.deployments[model]`, else the model without dots
        (Azure deployment names cannot contain '.', so gpt-3.5-turbo -> gpt-35-turbo)."""
        mapping = spec.config.get("deployments") or {}
        return mapping.get(upstream_model) or upstream_model.replace(".", "")

    def request_url(self, spec: ChannelSpec, endpoint: Endpoint, upstream_model: str) -> str:
        base = self.base_url(spec)
        version = quote(str(spec.config.get("api_version") or DEFAULT_API_VERSION))
        if endpoint is Endpoint.models:
            return f"{base}/openai/models?api-version={version}"
        name = quote(self.deployment(spec, upstream_model), safe="")
        return f"{base}/openai/deployments/{name}/{endpoint.path}?api-version={version}"

    def request_headers(self, spec: ChannelSpec, endpoint: Endpoint) -> dict[str, str]:
        headers = {"api-key": spec.key, "accept-encoding": "identity"}
        headers.update({str(k).lower(): str(v)
                        for k, v in (spec.config.get("extra_headers") or {}).items()})
        return headers
