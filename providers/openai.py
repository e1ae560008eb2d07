"""OpenAI and every OpenAI-compatible provider (DeepSeek, Moonshot, OpenRouter, vLLM...).

Compatible providers differ only by data (default base URL, balance endpoint), held in
their `ProviderInfo` row; this adaptor reads that row, never branches on provider ids.
Wire format: https://platform.openai.com/docs/api-reference
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from providers import tokenizer
from providers.base import (
    Adaptor,
    Balance,
    BalanceRequest,
    Endpoint,
    Usage,
    has_version,
    strip_version,
)
from providers.errors import RelayError, decode_error_body, from_upstream, invalid_answer
from providers.spec import ChannelSpec
from providers.sse import DONE, SSEEvent, format_json

STREAM_USAGE_ENDPOINTS = frozenset({Endpoint.chat_completions, Endpoint.completions})
# The list every answer of these endpoints holds; without it a 200 is no answer at all.
# https://platform.openai.com/docs/api-reference (chat, completions, embeddings, responses)
ANSWER_LISTS = {Endpoint.chat_completions: "choices", Endpoint.completions: "choices",
                Endpoint.embeddings: "data", Endpoint.responses: "output"}


class OpenAIAdaptor(Adaptor):
    """Pass-through adaptor: bodies are forwarded untouched unless the model is mapped or
    `stream_options.include_usage` must be injected so streamed usage can be billed."""

    supported = frozenset(Endpoint)

    def api_root(self, spec: ChannelSpec) -> str:
        """Base URL with its API version: `{base}/v1`, or `{base}` if it already ends in
        `/vN` (users often paste `https://host/v1`; Zhipu's root is `/api/paas/v4`)."""
        base = self.base_url(spec)
        return base if has_version(base) else base + "/v1"

    def request_url(self, spec: ChannelSpec, endpoint: Endpoint, upstream_model: str) -> str:
        return f"{self.api_root(spec)}/{endpoint.path}"

    def request_headers(self, spec: ChannelSpec, endpoint: Endpoint) -> dict[str, str]:
        headers = {"authorization": f"Bearer {spec.key}", "accept-encoding": "identity"}
        if org := spec.config.get("organization"):
            headers["openai-organization"] = str(org)
        headers.update({str(k).lower(): str(v)
                        for k, v in (spec.config.get("extra_headers") or {}).items()})
        return headers

    def build_body(self, spec: ChannelSpec, endpoint: Endpoint, body: dict[str, Any],
                   upstream_model: str) -> dict[str, Any] | None:
        """None (forward bytes) unless the model is mapped or stream usage is injected;
        then a shallow copy with only `model` / `stream_options` changed."""
        if endpoint.is_multipart or endpoint is Endpoint.models:
            return None
        inject = self.needs_usage_injection(endpoint, body)
        remap = body.get("model") not in (None, upstream_model)
        if not (inject or remap):
            return None
        out = dict(body)
        if remap:
            out["model"] = upstream_model
        if inject:
            out["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return out

    def needs_usage_injection(self, endpoint: Endpoint, body: dict[str, Any]) -> bool:
        """True when streaming chat/completions without the client asking for usage."""
        if endpoint not in STREAM_USAGE_ENDPOINTS or not body.get("stream"):
            return False
        if not self.supports_stream_usage:
            return False
        return not (body.get("stream_options") or {}).get("include_usage")

    def parse_response(self, endpoint: Endpoint, data: dict[str, Any],
                       requested_model: str) -> dict[str, Any]:
        """The upstream body itself, with `model` renamed to what the client asked for."""
        if endpoint is not Endpoint.models and "model" in data:
            data["model"] = requested_model
        return data

    def is_answer(self, endpoint: Endpoint, data: dict[str, Any]) -> bool:
        """False when a chat/completions/embeddings/responses 200 lacks its answer list."""
        key = ANSWER_LISTS.get(endpoint)
        return key is None or isinstance(data.get(key), list)

    def extract_usage(self, endpoint: Endpoint, data: dict[str, Any]) -> Usage:
        usage = data.get("usage")
        if usage is None and isinstance(data.get("response"), dict):
            usage = data["response"].get("usage")  # Responses API stream events
        return usage_from_openai(usage)

    def stream_converter(self, requested_model: str, include_usage: bool,
                         upstream_model: str | None = None,
                         endpoint: Endpoint = Endpoint.chat_completions) -> OpenAIStream:
        rewrite = upstream_model is not None and upstream_model != requested_model
        strip = not include_usage and self.supports_stream_usage \
            and endpoint in STREAM_USAGE_ENDPOINTS
        return OpenAIStream(requested_model, endpoint, rewrite_model=rewrite,
                            strip_usage_chunk=strip)

    def balance_request(self, spec: ChannelSpec) -> BalanceRequest | None:
        if not self.provider.balance_path:
            return None
        url = strip_version(self.base_url(spec)) + self.provider.balance_path
        return BalanceRequest("GET", url, self.request_headers(spec, Endpoint.models))

    def parse_balance(self, data: dict[str, Any]) -> Balance | None:
        parser = BALANCE_PARSERS.get(self.provider.balance_format)
        try:
            return parser(data) if parser else None
        except (KeyError, TypeError, ValueError, IndexError):
            return None


def usage_from_openai(usage: Any) -> Usage:
    """Usage from an OpenAI-style `usage` object (chat, completions, embeddings, responses).

    Cached prompt tokens: `prompt_tokens_details.cached_tokens` (OpenAI),
    `input_tokens_details.cached_tokens` (Responses), `prompt_cache_hit_tokens` (DeepSeek).
    """
    if not isinstance(usage, dict):
        return Usage()
    prompt = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    completion = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    if not completion and usage.get("total_tokens"):
        completion = max(0, usage["total_tokens"] - prompt)
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    cached = details.get("cached_tokens") or usage.get("prompt_cache_hit_tokens") or 0
    return Usage(int(prompt), int(completion), int(cached))


def _delta_text(obj: dict[str, Any]) -> str:
    """Generated text in one chunk (content, reasoning, tool arguments, legacy `text`)."""
    parts: list[str] = []
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or choice
        for key in ("content", "reasoning_content", "text"):
            if isinstance(value := delta.get(key), str):
                parts.append(value)
        for call in delta.get("tool_calls") or ():
            parts.append((call.get("function") or {}).get("arguments") or "")
    if isinstance(obj.get("delta"), str):  # Responses API `*.delta` events
        parts.append(obj["delta"])
    return "".join(parts)


class OpenAIStream:
    """Forwards OpenAI SSE events, counting usage; rewrites or drops chunks only when asked.

    Without model mapping each event's bytes are forwarded as they came (plus only JSON
    decoding to read usage). Upstream usage, once seen, replaces the local estimate.
    """

    def __init__(self, requested_model: str, endpoint: Endpoint, *, rewrite_model: bool,
                 strip_usage_chunk: bool) -> None:
        self.requested_model = requested_model
        self.endpoint = endpoint
        self.rewrite_model = rewrite_model
        self.strip_usage_chunk = strip_usage_chunk
        self.usage = Usage(estimated=True)
        self.error: RelayError | None = None
        self.done = False
        self.emitted = False
        self._exact = False
        self._finish_seen = False

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self.done or self.error:
            return []
        if event.is_done:
            self.done = True
            return self._out(DONE)
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return self.abort(invalid_answer(200, event.data))
        if not isinstance(obj, dict):
            return []
        if "error" in obj and not obj.get("choices"):
            return self._upstream_error(obj)
        self._count(obj)
        if self.strip_usage_chunk and not obj.get("choices") and obj.get("usage"):
            return []
        data = self._rewrite(obj) if self.rewrite_model else event.data
        return self._out(_frame(event.event, data))

    def _count(self, obj: dict[str, Any]) -> None:
        usage = obj.get("usage")
        if not usage and isinstance(obj.get("response"), dict):
            usage = obj["response"].get("usage")  # Responses API `response.completed`
        if usage:
            exact = usage_from_openai(usage)
            self.usage.prompt_tokens = exact.prompt_tokens
            self.usage.completion_tokens = exact.completion_tokens
            self.usage.cached_tokens = exact.cached_tokens
            self.usage.estimated = False
            self._exact = True
        elif not self._exact and (text := _delta_text(obj)):
            self.usage.completion_tokens += tokenizer.count_text(text)
        if obj.get("type") == "response.completed" or any(
                c.get("finish_reason") for c in obj.get("choices") or ()):
            self._finish_seen = True

    def _rewrite(self, obj: dict[str, Any]) -> bytes:
        if "model" in obj:
            obj["model"] = self.requested_model
        if isinstance(obj.get("response"), dict) and "model" in obj["response"]:
            obj["response"]["model"] = self.requested_model
        return orjson.dumps(obj)

    def _upstream_error(self, obj: dict[str, Any]) -> list[bytes]:
        message, code, err_type = decode_error_body(orjson.dumps(obj))
        self.error = from_upstream(502, message, code, err_type)
        self.emitted = True
        return [format_json(self.error.to_dict())]

    def _out(self, data: bytes) -> list[bytes]:
        self.emitted = True
        return [data]

    def finish(self) -> list[bytes]:
        """Close the stream: [DONE] for chat/completions if the upstream ended cleanly
        but omitted it; an in-band error if it ended before any finish_reason."""
        if self.done or self.error:
            return []
        if not self._finish_seen:
            return self.abort(RelayError(502, "stream_interrupted",
                                         "upstream closed the stream early", retryable=True))
        self.done = True
        return self._out(DONE) if self.endpoint in STREAM_USAGE_ENDPOINTS else []

    def abort(self, error: RelayError) -> list[bytes]:
        if self.done or self.error:
            return []
        self.error = error
        return self._out(format_json(error.to_dict()))


def _frame(event_name: str, data: bytes) -> bytes:
    if event_name:
        return b"event: " + event_name.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"


def _balance_openai(data: dict[str, Any]) -> Balance:
    return Balance(float(data["total_available"]), "USD")


def _balance_deepseek(data: dict[str, Any]) -> Balance:
    # https://api-docs.deepseek.com/api/get-user-balance: one entry per currency
    infos = data["balance_infos"]
    info = next((i for i in infos if i.get("currency") == "USD"), infos[0])
    return Balance(float(info["total_balance"]), info.get("currency") or "CNY")


def _balance_openrouter(data: dict[str, Any]) -> Balance:
    # https://openrouter.ai/docs/api/api-reference/credits/get-credits
    credits = data["data"]
    return Balance(float(credits["total_credits"]) - float(credits["total_usage"]), "USD")


def _balance_siliconflow(data: dict[str, Any]) -> Balance:
    # https://docs.siliconflow.cn/cn/api-reference/userinfo/get-user-info (amounts in CNY
    # on siliconflow.cn; the .com site bills in USD but answers the same shape)
    return Balance(float(data["data"]["totalBalance"]), "CNY")


def _balance_moonshot(data: dict[str, Any]) -> Balance:
    # https://platform.moonshot.cn/docs/api/balance
    return Balance(float(data["data"]["available_balance"]), "CNY")


BALANCE_PARSERS: dict[str, Callable[[dict[str, Any]], Balance]] = {
    "openai": _balance_openai,
    "deepseek": _balance_deepseek,
    "openrouter": _balance_openrouter,
    "siliconflow": _balance_siliconflow,
    "moonshot": _balance_moonshot,
}
