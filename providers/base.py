"""Adaptor interface: pure conversions per provider, plus the async I/O owned once here.

Adaptors never see a Django request or model instance; they get a frozen `ChannelSpec`,
so the relay view, channel health tests and benchmarks call them the same way.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx
import orjson

from providers.errors import (
    DETAIL_LIMIT,
    RelayError,
    decode_error_body,
    detail_of,
    error_from_body,
    invalid_answer,
    scrub,
)
from providers.spec import ChannelSpec
from providers.sse import SSEEvent, SSEOverflow, SSEParser

__all__ = [
    "Adaptor", "Balance", "BalanceRequest", "Endpoint", "ProviderInfo",
    "StreamConverter", "Usage",
]

ERROR_BODY_LIMIT = 64 * 1024  # upstream error bodies are small; never buffer more
_VERSION_SUFFIX = re.compile(r"/v\d+[a-z0-9]*$")


class Endpoint(StrEnum):
    """Relay endpoints, named after their OpenAI path (`/v1/<path>`)."""

    chat_completions = "chat_completions"
    completions = "completions"
    embeddings = "embeddings"
    images_generations = "images_generations"
    images_edits = "images_edits"
    audio_speech = "audio_speech"
    audio_transcriptions = "audio_transcriptions"
    audio_translations = "audio_translations"
    moderations = "moderations"
    rerank = "rerank"
    responses = "responses"
    models = "models"

    @property
    def path(self) -> str:
        """Path under `/v1/`, e.g. `chat/completions`."""
        return _PATHS[self]

    @property
    def is_multipart(self) -> bool:
        """True when clients send multipart/form-data (bytes are forwarded untouched)."""
        return self in (Endpoint.images_edits, Endpoint.audio_transcriptions,
                        Endpoint.audio_translations)

    @property
    def method(self) -> str:
        return "GET" if self is Endpoint.models else "POST"


_PATHS = {
    Endpoint.chat_completions: "chat/completions", Endpoint.completions: "completions",
    Endpoint.embeddings: "embeddings", Endpoint.images_generations: "images/generations",
    Endpoint.images_edits: "images/edits", Endpoint.audio_speech: "audio/speech",
    Endpoint.audio_transcriptions: "audio/transcriptions",
    Endpoint.audio_translations: "audio/translations", Endpoint.moderations: "moderations",
    Endpoint.rerank: "rerank", Endpoint.responses: "responses", Endpoint.models: "models",
}


@dataclass(slots=True)
class Usage:
    """Token usage in OpenAI terms. `cached_tokens` is included in `prompt_tokens`.

    `estimated` is True when the numbers come from the local tokenizer, not the upstream.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    estimated: bool = False

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI `usage` object (CompletionUsage)."""
        return {"prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.total,
                "prompt_tokens_details": {"cached_tokens": self.cached_tokens}}


@dataclass(frozen=True, slots=True)
class Balance:
    """Remaining credit reported by a provider's balance API."""

    amount: float
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class BalanceRequest:
    method: str
    url: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """One provider row: the registry's data, handed to its adaptor at construction.

    `balance_path` is relative to the base URL with any trailing `/vN` removed;
    `balance_format` names a parser known to the adaptor. `endpoints` None = all the
    adaptor supports. `stream_usage` False = upstream rejects `stream_options`.
    """

    id: str
    label: str
    adaptor: str
    default_base_url: str = ""
    balance_path: str = ""
    balance_format: str = ""
    endpoints: frozenset[Endpoint] | None = None
    stream_usage: bool = True


class StreamConverter(Protocol):
    """Turns upstream SSE events into OpenAI SSE bytes, counting usage as it goes.

    `feed` returns the bytes to send for one event (often none). `finish` returns the
    closing bytes (`data: [DONE]` if not yet sent). `abort(err)` returns an in-band
    error event for a stream cut midway. `error` holds an upstream in-stream error,
    `done` whether the upstream ended properly, `emitted` whether anything was output.
    """

    usage: Usage
    error: RelayError | None
    done: bool
    emitted: bool

    def feed(self, event: SSEEvent) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def abort(self, error: RelayError) -> list[bytes]: ...


def has_version(base_url: str) -> bool:
    """True when the URL already ends in an API version segment such as `/v1` or `/v4`."""
    return bool(_VERSION_SUFFIX.search(base_url.rstrip("/")))


def strip_version(base_url: str) -> str:
    """`https://h/api/v1` -> `https://h/api`; also drops a trailing slash."""
    base = base_url.rstrip("/")
    return _VERSION_SUFFIX.sub("", base)


class Adaptor:
    """Base of all provider adaptors. Subclasses override the pure conversion methods.

    One instance per provider row (see `registry.get_adaptor`); instances hold no
    per-request state and are safe to share across tasks.
    """

    supported: ClassVar[frozenset[Endpoint]] = frozenset()

    def __init__(self, provider: ProviderInfo) -> None:
        self.provider = provider

    # ---- pure conversions -------------------------------------------------------------
    def supports(self, endpoint: Endpoint) -> bool:
        """Whether this provider can serve `endpoint`."""
        allowed = self.provider.endpoints
        return endpoint in self.supported and (allowed is None or endpoint in allowed)

    @property
    def supports_stream_usage(self) -> bool:
        """Whether `stream_options.include_usage` may be injected into stream requests."""
        return self.provider.stream_usage

    def base_url(self, spec: ChannelSpec) -> str:
        """The channel's base URL, or the provider default; raises if neither is set."""
        base = (spec.base_url or self.provider.default_base_url).rstrip("/")
        if not base:
            raise RelayError(500, "channel_misconfigured",
                             f"channel {spec.id} has no base URL", type="server_error",
                             retryable=True)
        return base

    def request_url(self, spec: ChannelSpec, endpoint: Endpoint, upstream_model: str) -> str:
        raise NotImplementedError

    def request_headers(self, spec: ChannelSpec, endpoint: Endpoint) -> dict[str, str]:
        raise NotImplementedError

    def build_body(self, spec: ChannelSpec, endpoint: Endpoint, body: dict[str, Any],
                   upstream_model: str) -> dict[str, Any] | None:
        """Upstream JSON body, or None to forward the client's bytes untouched."""
        raise NotImplementedError

    def parse_response(self, endpoint: Endpoint, data: dict[str, Any],
                       requested_model: str) -> dict[str, Any]:
        """OpenAI-shaped response for upstream `data`, naming the client's model."""
        raise NotImplementedError

    def stream_converter(self, requested_model: str, include_usage: bool,
                         upstream_model: str | None = None) -> StreamConverter:
        """A fresh converter for one stream. `include_usage`: the client asked for it."""
        raise NotImplementedError

    def extract_usage(self, endpoint: Endpoint, data: dict[str, Any]) -> Usage:
        """Usage from an upstream (non-stream) response body; zeros when absent."""
        raise NotImplementedError

    def is_answer(self, endpoint: Endpoint, data: dict[str, Any]) -> bool:
        """Whether `data` (a 200's JSON object) is an answer to `endpoint` at all, rather
        than a proxy's or vendor's foreign object. Only clearly broken shapes are False."""
        return True

    def map_error(self, status: int, body: bytes, secrets: tuple[str, ...] = ()) -> RelayError:
        """RelayError for an upstream error answer; messages scrubbed of `secrets`, and
        generic unless the body is the provider's JSON error shape (`detail` has the body)."""
        return error_from_body(status, body, secrets)

    def balance_request(self, spec: ChannelSpec) -> BalanceRequest | None:
        """The HTTP request that reads the account balance, or None if unsupported."""
        return None

    def parse_balance(self, data: dict[str, Any]) -> Balance | None:
        """Balance from the balance API's JSON, or None if unsupported/unreadable."""
        return None

    # ---- async I/O, owned once --------------------------------------------------------
    async def open(self, client: httpx.AsyncClient, spec: ChannelSpec, endpoint: Endpoint, *,
                   body: dict[str, Any] | None, raw_body: bytes, requested_model: str,
                   content_type: str | None = None,
                   timeout: httpx.Timeout | float | None = None) -> httpx.Response:
        """Send the request upstream; return the open (streaming) response with status < 400.

        The caller must `await response.aclose()` (or read it fully). Raises RelayError:
        mapped upstream errors, retryable 502/504 on connect errors and timeouts.
        """
        upstream_model = spec.upstream_model(requested_model)
        url = self.request_url(spec, endpoint, upstream_model)
        headers = self.request_headers(spec, endpoint)
        converted = None if body is None else self.build_body(spec, endpoint, body,
                                                                upstream_model)
        if converted is not None:
            content, headers["content-type"] = orjson.dumps(converted), "application/json"
        else:
            content = raw_body
            if content_type or not endpoint.is_multipart:
                headers["content-type"] = content_type or "application/json"
        request = client.build_request(endpoint.method, parsed_url(url), headers=headers,
                                       content=content if endpoint.method == "POST" else None,
                                       timeout=timeout if timeout is not None else
                                       client.timeout)
        response = await self._send(client, request, spec)
        if response.status_code >= 400:
            raw = await read_limited(response, ERROR_BODY_LIMIT)
            raise self.map_error(response.status_code, raw, (spec.key,))
        return response

    async def invalid(self, response: httpx.Response, spec: ChannelSpec) -> RelayError:
        """The error for an open success response that is no answer (e.g. an HTML page):
        reads (a bounded part of) its body for the detail, closes it."""
        raw = await read_limited(response, ERROR_BODY_LIMIT)
        return invalid_answer(response.status_code, raw, (spec.key,))

    async def _send(self, client: httpx.AsyncClient, request: httpx.Request,
                    spec: ChannelSpec) -> httpx.Response:
        try:
            return await client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise RelayError(504, "upstream_timeout", f"upstream timed out ({type(exc).__name__})",
                             retryable=True) from exc
        except httpx.HTTPError as exc:
            text = scrub(str(exc), (spec.key,)) or type(exc).__name__
            raise RelayError(502, "upstream_unreachable", f"upstream unreachable: {text}",
                             retryable=True) from exc

    async def complete(self, client: httpx.AsyncClient, spec: ChannelSpec, endpoint: Endpoint,
                       *, body: dict[str, Any] | None, raw_body: bytes, requested_model: str,
                       timeout: httpx.Timeout | float | None = None,
                       max_bytes: int = 32 << 20) -> tuple[dict[str, Any], Usage]:
        """Non-stream JSON round trip: `(openai_response, usage)`. Raises RelayError."""
        response = await self.open(client, spec, endpoint, body=body, raw_body=raw_body,
                                   requested_model=requested_model, timeout=timeout)
        raw = await read_limited(response, max_bytes, spec=spec)
        return self.decode_response(endpoint, raw, requested_model, (spec.key,))

    def decode_response(self, endpoint: Endpoint, raw: bytes, requested_model: str,
                        secrets: tuple[str, ...] = ()) -> tuple[dict[str, Any], Usage]:
        """Pure: upstream JSON bytes -> `(openai_response, usage)`. Raises a retryable 502
        (`invalid_answer`) for invalid JSON, a non-object or an object that is no answer."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise invalid_answer(200, raw, secrets) from exc
        if not isinstance(data, dict):
            raise invalid_answer(200, raw, secrets)
        if not self.is_answer(endpoint, data):
            # A provider error object under a 200 keeps its own words; anything else not.
            raise invalid_answer(200, raw, secrets, message=decode_error_body(raw)[0]
                                 if "error" in data else "")
        return self.parse_response(endpoint, data, requested_model), \
            self.extract_usage(endpoint, data)

    async def relay_stream(self, response: httpx.Response, converter: StreamConverter, *,
                           idle_timeout: float | None = None) -> AsyncIterator[bytes]:
        """Yield OpenAI SSE bytes for an open upstream stream; always closes `response`.

        A cut connection, a read timeout, a gap longer than `idle_timeout` or malformed
        framing ends the stream with an in-band error event; `converter.error` then says
        why (usage so far stays valid) and reading stops there. An error before anything
        else was output carries the stream's first bytes as its `detail`.
        """
        parser = SSEParser()
        head = bytearray()  # the first bytes, until a good event is out: the error's detail
        try:
            async for chunk in iter_chunks(response, idle_timeout):
                if not converter.emitted:
                    head += chunk[:DETAIL_LIMIT - len(head)]
                # One event at a time: a caller that stops after an output has not yet
                # fed the events behind it (relay.streaming.prime relies on that).
                for event in parser.feed(chunk):
                    for out in _with_detail(converter, converter.feed(event), head):
                        yield out
                    if converter.error is not None:
                        return  # the error event ended the client's stream: stop reading
            for event in parser.flush():
                for out in _with_detail(converter, converter.feed(event), head):
                    yield out
            for out in _with_detail(converter, converter.finish(), head):
                yield out
        except (httpx.HTTPError, SSEOverflow, TimeoutError) as exc:
            for out in _with_detail(converter, converter.abort(stream_failure(exc)), head):
                yield out
        finally:
            await response.aclose()


def _with_detail(converter: StreamConverter, outs: list[bytes],
                 head: bytearray) -> list[bytes]:
    """`outs`, after giving an error that ended a stream before any good event the
    stream's first bytes as its detail (the operator sees what the upstream sent)."""
    error = converter.error
    if error is None and converter.emitted:
        head.clear()  # a good event went out: these bytes explain nothing any more
    elif error is not None and not error.detail and head:
        error.detail = detail_of(bytes(head))
    return outs


async def iter_chunks(response: httpx.Response,
                      idle_timeout: float | None = None) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; a gap longer than `idle_timeout` raises
    TimeoutError (None: wait as long as the client's read timeout allows)."""
    iterator = response.aiter_bytes().__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        yield chunk


@functools.lru_cache(maxsize=4096)
def parsed_url(url: str) -> httpx.URL:
    """`url` parsed once: a channel's URLs repeat on every request, and httpx's parser
    was ~1.5 % of a request's CPU. URLs are immutable, so one object serves them all."""
    return httpx.URL(url)


def stream_failure(exc: Exception) -> RelayError:
    """The error that ends a stream: idle or timed out (504), malformed or cut (502)."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return RelayError(504, "upstream_timeout", "upstream stream went idle or timed out",
                          retryable=True)
    if isinstance(exc, SSEOverflow):
        return RelayError(502, "bad_upstream_response", str(exc), retryable=True)
    return RelayError(502, "stream_interrupted", "upstream closed the stream early",
                      retryable=True)


async def read_limited(response: httpx.Response, limit: int,
                       spec: ChannelSpec | None = None) -> bytes:
    """Read at most `limit` bytes of the body, then close it. Raises 502 past the limit
    when `spec` is given (a success body), truncates silently otherwise (an error body)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                if spec is not None:
                    raise RelayError(502, "upstream_response_too_large",
                                     f"upstream response exceeds {limit} bytes", retryable=False)
                chunks.append(chunk[: limit - (size - len(chunk))])
                break
            chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise stream_failure(exc) from exc
    finally:
        await response.aclose()
    return b"".join(chunks)
