"""Request parsing and validation for /v1: raw bytes in, a `RelayRequest` or a 4xx out.

Only what the gateway itself needs is checked (model, the fields each endpoint cannot do
without, and the types of the fields it reads to route and bill); everything else is the
upstream's business and is forwarded untouched. Every refusal is a `RelayError` with a
4xx status, never an exception of another kind: `parse_json` is fuzzed to prove it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import orjson
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from providers import tokenizer
from providers.base import Endpoint
from relay import refusals

MAX_MODEL_LENGTH = 128
# Models clients may omit, as One API defaults them (the OpenAI SDKs always send one).
DEFAULT_MODELS = {
    Endpoint.moderations: "omni-moderation-latest",
    Endpoint.images_generations: "dall-e-2",
    Endpoint.images_edits: "dall-e-2",
    Endpoint.audio_transcriptions: "whisper-1",
    Endpoint.audio_translations: "whisper-1",
}
# Fields without which an endpoint's request is meaningless.
REQUIRED = {
    Endpoint.chat_completions: "messages",
    Endpoint.completions: "prompt",
    Endpoint.embeddings: "input",
    Endpoint.images_generations: "prompt",
    Endpoint.audio_speech: "input",
    Endpoint.moderations: "input",
    Endpoint.rerank: "query",
}
MULTIPART_FILE_FIELD = {
    Endpoint.images_edits: "image",
    Endpoint.audio_transcriptions: "file",
    Endpoint.audio_translations: "file",
}
STREAMABLE = frozenset({Endpoint.chat_completions, Endpoint.completions, Endpoint.responses})
MAX_TOKEN_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")


@dataclass(slots=True)
class RelayRequest:
    """A validated client request. `body` is None for multipart (forwarded as bytes)."""

    endpoint: Endpoint
    model: str
    raw: bytes
    body: dict[str, Any] | None
    content_type: str | None = None
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    n: int = 1
    prompt_tokens: int = 0


def parse_json(endpoint: Endpoint, raw: bytes) -> RelayRequest:
    """Validate a JSON request body; raises RelayError (400) on any problem."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise refusals.bad_request("We could not parse the JSON body of your request.",
                                 code="invalid_json") from None
    if not isinstance(body, dict):
        raise refusals.bad_request("The request body must be a JSON object.", code="invalid_json")
    model = _model(endpoint, body.get("model"))
    _check_required(endpoint, body)
    request = RelayRequest(endpoint, model, raw, body)
    request.stream = _optional(body, "stream", bool, False) and endpoint in STREAMABLE
    options = _optional(body, "stream_options", dict, None) or {}
    request.include_usage = options.get("include_usage") is True
    request.max_tokens = _max_tokens(body)
    request.n = _optional(body, "n", int, 1)
    if not 1 <= request.n <= 128:
        raise refusals.bad_request("'n' must be between 1 and 128.", param="n")
    request.prompt_tokens = estimate_prompt(endpoint, body, raw)
    return request


def parse_multipart(endpoint: Endpoint, raw: bytes, meta: dict[str, Any],
                    content_type: str, upload_handlers) -> RelayRequest:
    """Validate a multipart/form-data body (bytes are forwarded untouched)."""
    if not content_type.startswith("multipart/form-data"):
        raise refusals.unsupported_media_type(content_type, "multipart/form-data")
    try:
        fields, files = MultiPartParser({**meta, "CONTENT_LENGTH": str(len(raw))},
                                        io.BytesIO(raw), upload_handlers).parse()
    except (MultiPartParserError, ValueError) as exc:
        raise refusals.bad_request(f"Malformed multipart body: {exc}",
                                 code="invalid_multipart") from None
    file_field = MULTIPART_FILE_FIELD[endpoint]
    if file_field not in files:
        raise refusals.bad_request(f"Missing the '{file_field}' file.", param=file_field)
    model = _model(endpoint, fields.get("model"))
    stream = (fields.get("stream") or "").lower() == "true"
    return RelayRequest(endpoint, model, raw, None, content_type, stream=stream)


def _model(endpoint: Endpoint, value: Any) -> str:
    if value is None or value == "":
        if endpoint in DEFAULT_MODELS:
            return DEFAULT_MODELS[endpoint]
        raise refusals.bad_request("You must provide a model parameter.", param="model",
                                 code="missing_model")
    if not isinstance(value, str) or len(value) > MAX_MODEL_LENGTH or not value.strip():
        raise refusals.bad_request("'model' must be a model name (a string).", param="model",
                                 code="invalid_model")
    return value


def _check_required(endpoint: Endpoint, body: dict[str, Any]) -> None:
    field = REQUIRED.get(endpoint)
    if field and body.get(field) in (None, "", []):
        raise refusals.bad_request(f"Missing required parameter: '{field}'.", param=field,
                                 code="missing_required_parameter")
    if endpoint is Endpoint.chat_completions:
        _check_messages(body["messages"])
    elif endpoint is Endpoint.rerank and not isinstance(body.get("documents"), list):
        raise refusals.bad_request("'documents' must be a list.", param="documents")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise refusals.bad_request("'messages' must be a list of message objects.",
                                 param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise refusals.bad_request(f"'messages[{i}]' must be an object with a 'role'.",
                                     param=f"messages[{i}]")


def _optional(body: dict[str, Any], field: str, kind: type, default: Any) -> Any:
    value = body.get(field)
    if value is None:
        return default
    # bool is an int subclass: a boolean is never a valid count.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise refusals.bad_request(f"'{field}' must be of type {kind.__name__}.", param=field,
                                 code="invalid_type")
    return value


def _max_tokens(body: dict[str, Any]) -> int | None:
    for field in MAX_TOKEN_FIELDS:
        value = _optional(body, field, int, None)
        if value is not None:
            if value < 1:
                raise refusals.bad_request(f"'{field}' must be at least 1.", param=field)
            return value
    return None


def estimate_prompt(endpoint: Endpoint, body: dict[str, Any], raw: bytes) -> int:
    """Local prompt-token estimate (tokenizer), never failing on odd shapes."""
    if endpoint is Endpoint.audio_speech:
        text = body.get("input")
        return len(text) if isinstance(text, str) else 0  # TTS is priced per character
    if endpoint is Endpoint.rerank:
        return len(raw) // 4
    try:
        return tokenizer.count_request(endpoint.value, body)
    except (TypeError, AttributeError, ValueError):
        # Unusual but valid shapes (e.g. tool arguments as objects): a size-based estimate.
        return len(raw) // 4
