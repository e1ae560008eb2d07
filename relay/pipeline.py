"""One relayed request after admission: failover across channels, upstream calls with
timeouts, and billing (settle on success, refund on failure, one log row either way).
A non-stream answer is settled once it has been sent (`relay.after_response`).

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
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from django.conf import settings
from django.http import HttpResponse

from billing import quota
from billing.pricing import PriceSpec, quota_for
from billing.pricing import Usage as BillUsage
from channels_app import health
from providers import tokenizer
from providers.base import Endpoint, Usage, read_limited
from providers.errors import RelayError
from providers.spec import ChannelSpec
from relay import after_response, errors, metrics, throttle
from relay.client import get_client
from relay.schemas import RelayRequest
from relay.selection import pick_channel, pick_key
from relay.snapshot import ChannelRoute, Principal, RoutingTable

if TYPE_CHECKING:
    from relay.streaming import Primed

logger = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 64 << 20
COMPLETION_ENDPOINTS = frozenset({Endpoint.chat_completions, Endpoint.completions,
                                  Endpoint.responses})
# Endpoints whose success body may be other than JSON (audio bytes, text transcripts).
RAW_ENDPOINTS = frozenset({Endpoint.audio_speech, Endpoint.audio_transcriptions,
                           Endpoint.audio_translations})


@dataclass(slots=True)
class Exchange:
    """Everything known about one request while it is relayed."""

    request_id: str
    started: float
    client_ip: str
    principal: Principal
    req: RelayRequest
    price: PriceSpec
    reservation: quota.Reservation | None = None
    tried: list[int] = field(default_factory=list)
    channel: ChannelRoute | None = None
    key_id: int | None = None
    ttfb: float | None = None
    slot: throttle.Slot | None = None  # its place in the token's concurrency limit

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


@dataclass(slots=True)
class Completed:
    """A full non-stream answer, ready to send."""

    body: bytes
    usage: Usage
    content_type: str = "application/json"


# ---- estimate and pricing ------------------------------------------------------------

def estimate_quota(ex: Exchange, pre_consume_tokens: int) -> int:
    """Pre-charge: prompt tokens plus max_tokens (or the option's default), priced."""
    req = ex.req
    completion = 0
    if req.endpoint in COMPLETION_ENDPOINTS:
        completion = (req.max_tokens or pre_consume_tokens) * req.n
    usage = BillUsage(prompt_tokens=req.prompt_tokens, completion_tokens=completion)
    return charge(ex, usage)


def charge(ex: Exchange, usage: BillUsage) -> int:
    """Quota for `usage`; per-request prices count once per generated image."""
    amount = quota_for(ex.price, usage, ex.principal.group_ratio)
    if ex.price.per_request and ex.req.n > 1 and ex.req.endpoint in (
            Endpoint.images_generations, Endpoint.images_edits):
        single = PriceSpec(ex.price.model, per_request=ex.price.per_request)
        amount += (ex.req.n - 1) * quota_for(single, BillUsage(), ex.principal.group_ratio)
    return amount


def price_for(model: str, prices: dict[str, PriceSpec], options: dict) -> PriceSpec | None:
    """The model's price, the operator's default price if enabled, else None."""
    price = prices.get(model)
    if price is None and options.get("default_price_enabled"):
        price = PriceSpec(model, input=Decimal(str(options["default_input_price"])),
                          output=Decimal(str(options["default_output_price"])))
    return price


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
        await asyncio.shield(refund(ex, errors.internal_error()))
        raise
    if isinstance(result, Completed):
        await after_response.defer(functools.partial(settle, ex, result.usage, status=200))
        return HttpResponse(result.body, content_type=result.content_type)
    from relay.streaming import stream_response

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
            last = errors.endpoint_not_supported(req.model, req.endpoint.path)
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
        raise errors.no_channel(ex.principal.group, req.model,
                                table.unavailable_hint(ex.principal.group, req.model))
    raise errors.all_channels_failed(last, len(ex.tried))


async def _report_failure(ex: Exchange, channel: ChannelRoute, err: RelayError) -> None:
    metrics.UPSTREAM_ERRORS.labels(str(channel.id), ex.req.model, err.code or "error").inc()
    if err.retryable:
        metrics.RETRIES.labels(str(channel.id), ex.req.model).inc()
    await health.report(channel.id, ex.key_id, ex.req.model, ok=False,
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
        from relay.streaming import prime

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
    health.record_success(channel.id, req.model)
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


# ---- billing -----------------------------------------------------------------------------

def log_row(ex: Exchange, *, usage: Usage | None, status: int, error: str = "",
            kind: str = "consume", detail: str = "") -> dict:
    """The Log fields of this request (settle/refund set `quota`). `detail`, the upstream's
    raw answer to a failed attempt, goes to `content`, which only operators see."""
    p, usage = ex.principal, usage or Usage()
    return {
        "type": kind,
        "user_id": p.user_id, "username": p.username,
        "token_id": p.token_id, "token_name": p.token_name,
        "channel_id": ex.channel.id if ex.channel else None,
        "model": ex.req.model, "group_name": p.group,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens, "price": price_snapshot(ex),
        "is_stream": ex.req.stream, "elapsed_ms": ex.elapsed_ms(),
        "ttfb_ms": int(ex.ttfb * 1000) if ex.ttfb is not None else None,
        "request_id": ex.request_id, "client_ip": ex.client_ip or None,
        "status_code": status, "error": error[:2000], "channels_tried": list(ex.tried),
        "content": detail,
    }


def price_snapshot(ex: Exchange) -> dict:
    price = ex.price

    def s(v):
        return None if v is None else str(v)

    return {"model": price.model, "input": s(price.input), "output": s(price.output),
            "cached_input": s(price.cached_input), "per_request": s(price.per_request),
            "group_ratio": str(ex.principal.group_ratio)}


async def settle(ex: Exchange, usage: Usage, *, status: int, error: str = "",
                 detail: str = "") -> int:
    """Charge the exact amount for `usage` (once); returns the quota really charged."""
    reservation, ex.reservation = ex.reservation, None
    if reservation is None:
        return 0
    try:
        amount = charge(ex, BillUsage(usage.prompt_tokens, usage.completion_tokens,
                                      usage.cached_tokens))
        charged = await quota.settle(reservation, amount,
                                     channel_id=ex.channel.id if ex.channel else None,
                                     log=log_row(ex, usage=usage, status=status, error=error,
                                                 detail=detail))
    finally:
        await give_slot(ex)
    metrics.child(metrics.QUOTA_CHARGED, ex.req.model).inc(charged)
    await throttle.add_tokens(ex.principal, usage.prompt_tokens + usage.completion_tokens)
    return charged


async def refund(ex: Exchange, err: RelayError) -> None:
    """Return the whole reservation and log the failure (once)."""
    reservation, ex.reservation = ex.reservation, None
    if reservation is None:
        return
    try:
        await quota.refund(reservation, log=log_row(ex, usage=None, status=err.status,
                                                    error=f"{err.code}: {err.message}",
                                                    kind="error", detail=err.detail))
    finally:
        await give_slot(ex)


async def give_slot(ex: Exchange) -> None:
    """Free the request's concurrency slot (once); a Redis failure only delays that until
    the slot expires."""
    slot, ex.slot = ex.slot, None
    try:
        await throttle.give_slot(slot)
    except Exception:
        logger.warning("could not free a concurrency slot; it will expire", exc_info=True)

