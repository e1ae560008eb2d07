"""The one list of providers: id -> adaptor class path, label, default base URL, balance API.

`Channel.type` choices derive from `PROVIDER_CHOICES`; a Django system check calls
`check_registry()` so an entry that will not import fails at start-up, not on traffic.
OpenAI-compatible vendors are rows served by the OpenAI adaptor, not subclasses.
Adding a native provider (gemini, ollama native, zhipu/qwen native...) = one module with an
`Adaptor` subclass + one row here; the relay does not change.
"""

from __future__ import annotations

import importlib
from functools import cache

from providers.base import Adaptor, Endpoint, ProviderInfo

OPENAI = "providers.openai.OpenAIAdaptor"
CHAT_ONLY = frozenset({Endpoint.chat_completions, Endpoint.models})
CHAT_EMBED = CHAT_ONLY | {Endpoint.embeddings}

PROVIDERS: tuple[ProviderInfo, ...] = (
    ProviderInfo("openai", "OpenAI", OPENAI, "https://api.openai.com",
                 balance_path="/dashboard/billing/credit_grants", balance_format="openai",
                 endpoints=frozenset(Endpoint) - {Endpoint.rerank}),
    ProviderInfo("azure", "Azure OpenAI", "providers.azure.AzureAdaptor"),
    ProviderInfo("anthropic", "Anthropic Claude", "providers.anthropic.AnthropicAdaptor",
                 "https://api.anthropic.com"),
    ProviderInfo("deepseek", "DeepSeek", OPENAI, "https://api.deepseek.com",
                 balance_path="/user/balance", balance_format="deepseek",
                 endpoints=CHAT_ONLY | {Endpoint.completions}),
    ProviderInfo("moonshot", "Moonshot (Kimi)", OPENAI, "https://api.moonshot.cn",
                 balance_path="/v1/users/me/balance", balance_format="moonshot",
                 endpoints=CHAT_ONLY),
    ProviderInfo("openrouter", "OpenRouter", OPENAI, "https://openrouter.ai/api",
                 balance_path="/v1/credits", balance_format="openrouter",
                 endpoints=CHAT_EMBED | {Endpoint.completions, Endpoint.responses}),
    ProviderInfo("siliconflow", "SiliconFlow", OPENAI, "https://api.siliconflow.cn",
                 balance_path="/v1/user/info", balance_format="siliconflow"),
    ProviderInfo("groq", "Groq", OPENAI, "https://api.groq.com/openai",
                 endpoints=CHAT_ONLY | {Endpoint.audio_transcriptions,
                                        Endpoint.audio_translations, Endpoint.audio_speech}),
    ProviderInfo("zhipu", "Zhipu GLM (OpenAI-compatible v4)", OPENAI,
                 "https://open.bigmodel.cn/api/paas/v4", endpoints=CHAT_EMBED),
    ProviderInfo("qwen", "Alibaba Qwen (DashScope compatible mode)", OPENAI,
                 "https://dashscope.aliyuncs.com/compatible-mode/v1", endpoints=CHAT_EMBED),
    ProviderInfo("ollama", "Ollama (OpenAI-compatible)", OPENAI, "http://localhost:11434",
                 endpoints=CHAT_EMBED | {Endpoint.completions}),
    ProviderInfo("vllm", "vLLM", OPENAI),
    ProviderInfo("custom", "Custom OpenAI-compatible", OPENAI),
)

PROVIDERS_BY_ID: dict[str, ProviderInfo] = {p.id: p for p in PROVIDERS}
PROVIDER_CHOICES: list[tuple[str, str]] = [(p.id, p.label) for p in PROVIDERS]


def provider_info(provider_id: str) -> ProviderInfo:
    """The row for `provider_id`; raises KeyError for an unknown id."""
    return PROVIDERS_BY_ID[provider_id]


def default_base_url(provider_id: str) -> str:
    """Default base URL of a provider, or "" when the channel must supply one."""
    return PROVIDERS_BY_ID[provider_id].default_base_url


def _import(path: str) -> type[Adaptor]:
    module_name, _, class_name = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Adaptor)):
        raise TypeError(f"{path} is not an Adaptor subclass")
    return cls


@cache
def get_adaptor(provider_id: str) -> Adaptor:
    """The shared adaptor instance for `provider_id` (cached; adaptors are stateless).

    Raises KeyError for an unknown id, ImportError/TypeError for a broken entry.
    """
    info = PROVIDERS_BY_ID[provider_id]
    return _import(info.adaptor)(info)


def check_registry() -> list[str]:
    """One message per entry that will not import or construct (empty list = healthy)."""
    problems: list[str] = []
    for info in PROVIDERS:
        try:
            _import(info.adaptor)(info)
        except Exception as exc:  # noqa: BLE001 - report every kind of failure
            problems.append(f"provider {info.id!r}: cannot load {info.adaptor}: {exc!r}")
    return problems
