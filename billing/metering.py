"""Metering: the one place a relayed request is charged.

The relay calls it in three places: before the upstream (`price_for`, `estimate`,
`pre_charge`), after a success (`settle`) and after a failure (`refund`). It receives
plain values in two small frozen records, never a relay object: a `Meter` (who pays for
what, known before the upstream is called) and a `Trail` (what the attempts did, known at
the end). The log row of a request is built here (`log_row`), queued by `billing.quota`
and written by `billing.buffer`.

Prices come from the relay's in-process price snapshot handed in, so a warm request makes
no query here; every amount is an exact integer (`billing.pricing.quota_for`). The three
verbs return billing.quota's awaitable itself rather than wrapping it in one more
coroutine: the relay awaits exactly what it awaited before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing import quota
from billing.pricing import PriceSpec, quota_for
from providers.base import Endpoint, Usage

COMPLETION_ENDPOINTS = frozenset({Endpoint.chat_completions, Endpoint.completions,
                                  Endpoint.responses})
# A per-request price counts once per generated image on these.
PER_IMAGE_ENDPOINTS = frozenset({Endpoint.images_generations, Endpoint.images_edits})


@dataclass(frozen=True, slots=True)
class Meter:
    """Who pays for what: everything about a request that billing needs, fixed before
    the upstream is called."""

    token_id: int
    token_name: str
    user_id: int
    username: str
    group: str
    group_ratio: Decimal
    unlimited_token: bool
    model: str
    price: PriceSpec
    endpoint: Endpoint
    n: int = 1
    prompt_tokens: int = 0  # counted locally from the request
    max_tokens: int | None = None
    is_stream: bool = False
    request_id: str = ""
    client_ip: str = ""


@dataclass(frozen=True, slots=True)
class Trail:
    """What the attempts did: the last channel tried, every channel tried, timings."""

    channel_id: int | None = None
    channels_tried: tuple[int, ...] = ()
    elapsed_ms: int = 0
    ttfb_ms: int | None = None


# ---- before the upstream ------------------------------------------------------------

def price_for(model: str, prices: Mapping[str, PriceSpec],
              options: Mapping[str, Any]) -> PriceSpec | None:
    """The model's price, the operator's default price if enabled, else None (the relay
    refuses an unpriced model)."""
    price = prices.get(model)
    if price is None and options.get("default_price_enabled"):
        price = PriceSpec(model, input=Decimal(str(options["default_input_price"])),
                          output=Decimal(str(options["default_output_price"])))
    return price


def estimate(meter: Meter, pre_consume_tokens: int) -> int:
    """The pre-charge: prompt tokens plus max_tokens (or `pre_consume_tokens`, the
    option's default) per choice on completion endpoints, priced."""
    completion = 0
    if meter.endpoint in COMPLETION_ENDPOINTS:
        completion = (meter.max_tokens or pre_consume_tokens) * meter.n
    return charge(meter, Usage(meter.prompt_tokens, completion))


def charge(meter: Meter, usage: Usage) -> int:
    """The exact quota for `usage`; a per-request price counts once per generated image."""
    amount = quota_for(meter.price, usage, meter.group_ratio)
    if meter.price.per_request and meter.n > 1 and meter.endpoint in PER_IMAGE_ENDPOINTS:
        single = PriceSpec(meter.price.model, per_request=meter.price.per_request)
        amount += (meter.n - 1) * quota_for(single, Usage(), meter.group_ratio)
    return amount


def pre_charge(meter: Meter, amount: int) -> Awaitable[quota.Reservation]:
    """Reserve `amount` from the token (unless unlimited) and its user, both or neither:
    await it for the Reservation. Raises quota.InsufficientQuota (nothing taken) or
    quota.QuotaUnavailable. The reservation ends in exactly one `settle` or `refund`."""
    return quota.reserve(
        meter.token_id, meter.user_id, amount, unlimited_token=meter.unlimited_token,
        note={"model": meter.model, "request_id": meter.request_id,
              "client_ip": meter.client_ip, "group_name": meter.group,
              "is_stream": meter.is_stream})


# ---- after the upstream -------------------------------------------------------------

def settle(meter: Meter, reservation: quota.Reservation, usage: Usage, trail: Trail,
           *, status: int, error: str = "", detail: str = "") -> Awaitable[int]:
    """Charge the exact amount for `usage` instead of the reservation (the extra clamped
    so no balance goes below zero) and queue the log row; await it for the quota
    charged."""
    return quota.settle(
        reservation, charge(meter, usage), channel_id=trail.channel_id,
        log=log_row(meter, trail, usage=usage, status=status, error=error, detail=detail))


def refund(meter: Meter, reservation: quota.Reservation, trail: Trail, *,
           status: int, error: str, detail: str = "") -> Awaitable[None]:
    """Give the whole reservation back and queue the failure's log row (quota 0): await
    it."""
    return quota.refund(reservation, log=log_row(meter, trail, usage=None, status=status,
                                                 error=error, kind="error", detail=detail))


def log_row(meter: Meter, trail: Trail, *, usage: Usage | None, status: int,
            error: str = "", kind: str = "consume", detail: str = "") -> dict[str, Any]:
    """The Log fields of a request (billing.quota sets `quota`). `detail`, the upstream's
    raw answer to a failed attempt, goes to `content`, which only operators see."""
    usage = usage or Usage()
    return {
        "type": kind,
        "user_id": meter.user_id, "username": meter.username,
        "token_id": meter.token_id, "token_name": meter.token_name,
        "channel_id": trail.channel_id, "model": meter.model, "group_name": meter.group,
        "prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens, "price": price_snapshot(meter),
        "is_stream": meter.is_stream, "elapsed_ms": trail.elapsed_ms,
        "ttfb_ms": trail.ttfb_ms, "request_id": meter.request_id,
        "client_ip": meter.client_ip or None, "status_code": status,
        "error": error[:2000], "channels_tried": list(trail.channels_tried),
        "content": detail,
    }


def price_snapshot(meter: Meter) -> dict[str, str | None]:
    """The price the request was charged at, as the log row keeps it (strings: exact)."""
    price = meter.price

    def s(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    return {"model": price.model, "input": s(price.input), "output": s(price.output),
            "cached_input": s(price.cached_input), "per_request": s(price.per_request),
            "group_ratio": str(meter.group_ratio)}
