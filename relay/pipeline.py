"""One relayed request after admission: failover across channels and upstream calls with
timeouts. Billing ends here or in `relay.streaming`, through `relay.exchange`: settle on
success, refund on failure, one log row either way. A non-stream answer is settled once
it has been sent (`relay.after_response`).

Failover: retryable errors (connect errors, timeouts, 429, 5xx) move to a channel not yet
tried, falling to lower tiers, up to the `retry_times` option more attempts; client
errors (4xx) never do, and nothing is retried once a byte went to the client. A 200
that is no answer (an HTML page, invalid JSON, an object without the endpoint's answer, a
stream whose first event is not JSON) is a failed attempt like a 5xx: SSE streams commit
only on their first good event (`relay.streaming.prime`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from django.conf import settings
from django.http import HttpResponse

from providers import tokenizer
from providers.base import Endpoint, Usage, read_limited
from providers.errors import RelayError
from providers.spec import ChannelSpec
from relay import after_response, metrics, refusals
from relay.client import get_client
from relay.exchange import Exchange, refund, settle
from relay.health.report import report as report_health
from relay.health.windows import record_success
from relay.selection import pick_channel, pick_key
from relay.snapshot import ChannelRoute, RoutingTable
from relay.streaming import Primed, prime, stream_response

MAX_RESPONSE_BYTES = 64 << 20
# Endpoints whose success body may be other than JSON (audio bytes, text transcripts).
RAW_ENDPOINTS = frozenset({Endpoint.audio_speech, Endpoint.audio_transcriptions,
                           Endpoint.audio_translations})


@dataclass(slots=True)
class Completed:
    """A full non-stream answer, ready to send."""

    body: bytes
    usage: Usage
    content_type: str = "application/json"


# ---- failover ----------------------------------------------------------------------------

async def run(ex: Exchange, table: RoutingTable, pinned: ChannelRoute | None,
              retry_times: int) -> HttpResponse:
    """Relay the request; returns the client response. Raises RelayError after refunding."""
    try:
        result = await with_failover(ex, table, pinned, retry_times)
    except RelayError as err:
        await refund(ex, err)
        raise
    except BaseException:
        await asyncio.shield(refund(ex, refusals.internal_error()))
        raise
    if isinstance(result, Completed):
        await after_response.defer(functools.partial(settle, ex, result.usage, status=200))
        return HttpResponse(result.body, content_type=result.content_type)
    return stream_response(ex, result)


async def with_failover(ex: Exchange, table: RoutingTable, pinned: ChannelRoute | None,
                        retry_times: int) -> Completed | Primed | httpx.Response:
    """Try channels until one answers; raises the last error, saying how many were tried."""
    req = ex.req
    attempts = 1 if pinned else 1 + max(retry_times, 0)
    last: RelayError | None = None
    for _ in range(attempts):
        channel = pinned or pick_channel(table, ex.principal.group, req.model, ex.tried)
        if channel is None:
            break
        ex.tried.append(channel.id)
        if not channel.adaptor.supports(req.endpoint):
            last = refusals.endpoint_not_supported(req.model, req.endpoint.path)
            last.retryable = True
            continue
        try:
            return await attempt(ex, channel)
        except RelayError as err:
            last = err
            await _report_failure(ex, channel, err)
            if not err.retryable:
                break
    if last is None:
        raise refusals.no_channel(ex.principal.group, req.model,
                                table.unavailable_hint(ex.principal.group, req.model))
    raise refusals.all_channels_failed(last, len(ex.tried))


async def _report_failure(ex: Exchange, channel: ChannelRoute, err: RelayError) -> None:
    metrics.UPSTREAM_ERRORS.labels(str(channel.id), ex.req.model, err.code or "error").inc()
    if err.retryable:
        metrics.RETRIES.labels(str(channel.id), ex.req.model).inc()
    await report_health(channel.id, ex.key_id, ex.req.model, ok=False,
                       status=err.upstream_status or err.status, error_code=err.code,
                       message=err.message[:300], key_invalid=err.disable_key)


# ---- one attempt -------------------------------------------------------------------------

async def attempt(ex: Exchange, channel: ChannelRoute) -> Completed | Primed | httpx.Response:
    """Call one channel. Returns a Completed answer, a primed SSE stream (its first good
    event in hand) or the open response of a binary body. Raises RelayError (retryable or
    not), also for a success status whose body is no answer."""
    key_id, key = pick_key(channel)
    ex.channel, ex.key_id = channel, key_id
    spec = channel.spec(key)
    req = ex.req
    try:
        async with asyncio.timeout(settings.RELAY_FIRST_BYTE_TIMEOUT):
            response = await channel.adaptor.open(
                get_client(), spec, req.endpoint, body=req.body, raw_body=req.raw,
                requested_model=req.model, content_type=req.content_type)
    except TimeoutError:
        raise RelayError(504, "upstream_timeout", "upstream sent no response in time",
                         retryable=True) from None
    ex.ttfb = time.perf_counter() - ex.started
    metrics.child(metrics.TTFB, req.endpoint.value).observe(ex.ttfb)
    return await _answer(ex, channel, spec, response)


async def _answer(ex: Exchange, channel: ChannelRoute, spec: ChannelSpec,
                  response: httpx.Response) -> Completed | Primed | httpx.Response:
    """Judge an open success response by its content type and the endpoint: HTML is never
    an answer, SSE is primed, audio may be any bytes, everything else must be the
    endpoint's JSON answer. Raises a retryable RelayError for a body that is no answer."""
    req = ex.req
    content_type = response.headers.get("content-type", "")
    if "text/html" in content_type:  # no endpoint answers in HTML: a proxy's page
        raise await channel.adaptor.invalid(response, spec)
    if "text/event-stream" in content_type and req.body is not None:
        return await prime(ex, response)
    if "json" not in content_type and (req.endpoint in RAW_ENDPOINTS or
                                       (req.stream and req.body is None)):
        return response  # audio bytes, text transcripts, multipart streams
    try:
        async with asyncio.timeout(settings.RELAY_UPSTREAM_TIMEOUT):
            raw = await read_limited(response, MAX_RESPONSE_BYTES, spec=spec)
    except TimeoutError:
        raise RelayError(504, "upstream_timeout", "upstream response took too long",
                         retryable=True) from None
    data, usage = channel.adaptor.decode_response(req.endpoint, raw, req.model, (spec.key,))
    record_success(channel.id, req.model)
    return Completed(orjson.dumps(data), complete_usage(ex, usage, data))


def complete_usage(ex: Exchange, usage: Usage, data: dict[str, Any] | None) -> Usage:
    """Upstream usage, or a local count when the upstream reported none."""
    if usage.prompt_tokens or usage.completion_tokens:
        return usage
    completion = tokenizer.count_text(_answer_text(data)) if data else 0
    return Usage(ex.req.prompt_tokens, completion, 0, estimated=True)


def _answer_text(data: dict[str, Any]) -> str:
    parts = []
    for choice in data.get("choices") or ():
        if isinstance(choice, dict):
            message = choice.get("message") or {}
            text = message.get("content") if isinstance(message, dict) else None
            parts.append(text if isinstance(text, str) else choice.get("text") or "")
    return "".join(p for p in parts if isinstance(p, str))
