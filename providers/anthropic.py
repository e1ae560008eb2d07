"""Anthropic Messages API behind the OpenAI chat completions interface.

Request conversion lives in `anthropic_request`; this module holds URL/headers, response
and SSE conversion, usage and errors. https://docs.anthropic.com/en/api/messages,
https://docs.anthropic.com/en/docs/build-with-claude/streaming,
https://docs.anthropic.com/en/api/errors
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from providers import tokenizer
from providers.anthropic_request import DEFAULT_MAX_TOKENS, convert_request
from providers.base import Adaptor, Endpoint, Usage
from providers.errors import (
    KEY_DEAD_PHRASES,
    RelayError,
    detail_of,
    error_from_body,
    invalid_answer,
    scrub,
)
from providers.spec import ChannelSpec
from providers.sse import DONE, SSEEvent, format_json

API_VERSION = "2023-06-01"
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_calls", "pause_turn": "stop", "refusal": "content_filter"}
# Anthropic error type -> (status to send the client, retryable, key is dead)
ERROR_TYPES = {
    "invalid_request_error": (400, False, False),
    "authentication_error": (502, True, True),
    "billing_error": (502, True, True),
    "permission_error": (502, True, False),
    "not_found_error": (404, True, False),
    "request_too_large": (413, False, False),
    "rate_limit_error": (429, True, False),
    "api_error": (502, True, False),
    "timeout_error": (504, True, False),
    "overloaded_error": (503, True, False),
}


def usage_from_anthropic(usage: Any) -> Usage:
    """OpenAI-terms usage: prompt = input + cache reads + cache writes (Anthropic's
    `input_tokens` excludes both), cached = cache reads."""
    if not isinstance(usage, dict):
        return Usage()
    cached = usage.get("cache_read_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cached \
        + (usage.get("cache_creation_input_tokens") or 0)
    return Usage(prompt, usage.get("output_tokens") or 0, cached)


def convert_message(data: dict[str, Any], requested_model: str) -> dict[str, Any]:
    """Anthropic Message -> OpenAI `chat.completion`."""
    text: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in data.get("content") or ():
        if block.get("type") == "text":
            text.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            tool_calls.append({"id": block.get("id") or "", "type": "function",
                               "function": {"name": block.get("name") or "",
                                            "arguments": orjson.dumps(
                                                block.get("input") or {}).decode()}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) or None,
                               "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    finish = FINISH_REASONS.get(data.get("stop_reason") or "end_turn", "stop")
    return {"id": data.get("id") or "", "object": "chat.completion",
            "created": int(time.time()), "model": requested_model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": usage_from_anthropic(data.get("usage")).to_openai()}


class AnthropicAdaptor(Adaptor):
    """Claude via the Messages API; chat completions and the model list."""

    supported = frozenset({Endpoint.chat_completions, Endpoint.models})

    def request_url(self, spec: ChannelSpec, endpoint: Endpoint, upstream_model: str) -> str:
        base = self.base_url(spec)
        root = base if base.endswith("/v1") else base + "/v1"
        return root + ("/models" if endpoint is Endpoint.models else "/messages")

    def request_headers(self, spec: ChannelSpec, endpoint: Endpoint) -> dict[str, str]:
        headers = {"x-api-key": spec.key, "accept-encoding": "identity",
                   "anthropic-version": str(spec.config.get("anthropic_version") or API_VERSION)}
        if beta := spec.config.get("anthropic_beta"):
            headers["anthropic-beta"] = str(beta)
        return headers

    def build_body(self, spec: ChannelSpec, endpoint: Endpoint, body: dict[str, Any],
                   upstream_model: str) -> dict[str, Any] | None:
        if endpoint is Endpoint.models:
            return None
        default = int(spec.config.get("default_max_tokens") or DEFAULT_MAX_TOKENS)
        return convert_request(body, upstream_model, default)

    def parse_response(self, endpoint: Endpoint, data: dict[str, Any],
                       requested_model: str) -> dict[str, Any]:
        if endpoint is Endpoint.models:
            return {"object": "list", "data": [
                {"id": m.get("id") or "", "object": "model", "created": 0,
                 "owned_by": "anthropic"} for m in data.get("data") or ()]}
        return convert_message(data, requested_model)

    def extract_usage(self, endpoint: Endpoint, data: dict[str, Any]) -> Usage:
        return usage_from_anthropic(data.get("usage"))

    def is_answer(self, endpoint: Endpoint, data: dict[str, Any]) -> bool:
        """A Message has a `content` list; a model list has `data`."""
        return isinstance(data.get("data" if endpoint is Endpoint.models else "content"), list)

    def stream_converter(self, requested_model: str, include_usage: bool,
                         upstream_model: str | None = None,
                         endpoint: Endpoint = Endpoint.chat_completions) -> AnthropicStream:
        return AnthropicStream(requested_model, include_usage)

    def map_error(self, status: int, body: bytes, secrets: tuple[str, ...] = ()) -> RelayError:
        """`{"type": "error", "error": {"type", "message"}}` -> RelayError; any other
        body goes through the shared decoder (generic message unless it is JSON)."""
        try:
            err = orjson.loads(body).get("error") or {}
        except (orjson.JSONDecodeError, AttributeError):
            err = {}
        if not isinstance(err, dict) or err.get("type") not in ERROR_TYPES:
            return error_from_body(status, body, secrets)
        error = anthropic_error(err, status, secrets)
        error.detail = detail_of(body, secrets)
        return error


def anthropic_error(err: dict[str, Any], status: int | None,
                    secrets: tuple[str, ...] = ()) -> RelayError:
    """RelayError for an Anthropic error object (from a body or an SSE `error` event)."""
    kind = err.get("type") or "api_error"
    out, retryable, dead = ERROR_TYPES.get(kind, (502, True, False))
    raw = str(err.get("message") or kind)
    if kind == "invalid_request_error" and any(p in raw.lower() for p in KEY_DEAD_PHRASES):
        out, retryable, dead = 502, True, True  # "Your credit balance is too low..."
    return RelayError(out, kind, scrub(raw, secrets),
                      type="invalid_request_error" if out in (400, 413) else "upstream_error",
                      retryable=retryable, disable_key=dead, upstream_status=status)


class AnthropicStream:
    """Anthropic SSE events -> OpenAI `chat.completion.chunk` SSE lines + `[DONE]`.

    Usage: prompt tokens from `message_start`, output tokens from `message_delta`
    (cumulative); until then completion tokens are estimated from text deltas.
    """

    def __init__(self, requested_model: str, include_usage: bool) -> None:
        self.requested_model = requested_model
        self.include_usage = include_usage
        self.usage = Usage(estimated=True)
        self.error: RelayError | None = None
        self.done = False
        self.emitted = False
        self._id = ""
        self._created = int(time.time())
        self._tools: dict[int, int] = {}  # content block index -> OpenAI tool_call index
        self._finish: str | None = None

    def feed(self, event: SSEEvent) -> list[bytes]:
        if self.done or self.error:
            return []
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            return self.abort(invalid_answer(200, event.data))
        kind = obj.get("type") if isinstance(obj, dict) else None
        handler = getattr(self, f"_on_{kind}", None) if kind else None
        return handler(obj) if handler else []  # ping and unknown future events

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        self.emitted = True
        return format_json({"id": self._id, "object": "chat.completion.chunk",
                            "created": self._created, "model": self.requested_model,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                         "logprobs": None}]})

    def _on_message_start(self, obj: dict[str, Any]) -> list[bytes]:
        message = obj.get("message") or {}
        self._id = message.get("id") or ""
        start = usage_from_anthropic(message.get("usage"))
        self.usage.prompt_tokens, self.usage.cached_tokens = start.prompt_tokens, \
            start.cached_tokens
        return [self._chunk({"role": "assistant", "content": ""})]

    def _on_content_block_start(self, obj: dict[str, Any]) -> list[bytes]:
        block = obj.get("content_block") or {}
        if block.get("type") != "tool_use":
            return []
        index = self._tools.setdefault(obj.get("index", 0), len(self._tools))
        call = {"index": index, "id": block.get("id") or "", "type": "function",
                "function": {"name": block.get("name") or "", "arguments": ""}}
        return [self._chunk({"tool_calls": [call]})]

    def _on_content_block_delta(self, obj: dict[str, Any]) -> list[bytes]:
        delta = obj.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return self._counted(delta.get("text") or "", {"content": delta.get("text") or ""})
        if kind == "input_json_delta":
            index = self._tools.get(obj.get("index", 0), 0)
            partial = delta.get("partial_json") or ""
            return self._counted(partial, {"tool_calls": [
                {"index": index, "function": {"arguments": partial}}]})
        if kind == "thinking_delta":  # reasoning_content, as DeepSeek-style clients expect
            thinking = delta.get("thinking") or ""
            return self._counted(thinking, {"reasoning_content": thinking})
        return []

    def _counted(self, text: str, delta: dict[str, Any]) -> list[bytes]:
        if self.usage.estimated:
            self.usage.completion_tokens += tokenizer.count_text(text)
        return [self._chunk(delta)]

    def _on_message_delta(self, obj: dict[str, Any]) -> list[bytes]:
        usage = obj.get("usage") or {}
        if usage.get("output_tokens") is not None:
            self.usage.completion_tokens = usage["output_tokens"]
            self.usage.estimated = False
        if usage.get("input_tokens") is not None:  # newer API versions repeat input usage
            final = usage_from_anthropic(usage)
            self.usage.prompt_tokens, self.usage.cached_tokens = final.prompt_tokens, \
                final.cached_tokens
        stop = (obj.get("delta") or {}).get("stop_reason")
        if not stop:
            return []
        self._finish = FINISH_REASONS.get(stop, "stop")
        return [self._chunk({}, self._finish)]

    def _on_message_stop(self, obj: dict[str, Any]) -> list[bytes]:
        return self.finish()

    def _on_error(self, obj: dict[str, Any]) -> list[bytes]:
        return self.abort(anthropic_error(obj.get("error") or {}, None))

    def finish(self) -> list[bytes]:
        """Usage chunk (if the client asked) and `[DONE]`; an error if cut before the end."""
        if self.done or self.error:
            return []
        if self._finish is None:
            return self.abort(RelayError(502, "stream_interrupted",
                                         "upstream closed the stream early", retryable=True))
        self.done = True
        out = []
        if self.include_usage:
            out.append(format_json({"id": self._id, "object": "chat.completion.chunk",
                                    "created": self._created, "model": self.requested_model,
                                    "choices": [], "usage": self.usage.to_openai()}))
        return [*out, DONE]

    def abort(self, error: RelayError) -> list[bytes]:
        if self.done or self.error:
            return []
        self.error = error
        self.emitted = True
        return [format_json(error.to_dict())]
