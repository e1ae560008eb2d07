"""One relayed request's state, and the three places the relay calls billing.metering:
before the upstream (`begin` looks up the price, `pre_charge` estimates and reserves),
after a success (`settle`) and after a failure (`refund`).

Each of them also frees what the request holds in the relay (its concurrency slot) and
feeds the relay's own counters (metrics, the token's tokens-per-minute window); the charge
itself, its amount and its log row belong to `billing.metering`. `relay.pipeline` (the
failover) and `relay.streaming` (stream bodies) both import this module, never each other
in a cycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from billing import metering, quota
from billing.pricing import PriceSpec
from providers.base import Usage
from providers.errors import RelayError
from relay import metrics, refusals, throttle
from relay.schemas import RelayRequest
from relay.snapshot import ChannelRoute, Principal

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Exchange:
    """Everything known about one request while it is relayed."""

    started: float
    principal: Principal
    req: RelayRequest
    meter: metering.Meter
    reservation: quota.Reservation | None = None
    tried: list[int] = field(default_factory=list)
    channel: ChannelRoute | None = None
    key_id: int | None = None
    ttfb: float | None = None
    slot: throttle.Slot | None = None  # its place in the token's concurrency limit

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def trail(self) -> metering.Trail:
        """What the attempts did so far, for the log row."""
        return metering.Trail(
            self.channel.id if self.channel else None, tuple(self.tried), self.elapsed_ms(),
            int(self.ttfb * 1000) if self.ttfb is not None else None)


def begin(request_id: str, started: float, client_ip: str, principal: Principal,
          req: RelayRequest, prices: Mapping[str, PriceSpec],
          options: Mapping[str, Any]) -> Exchange:
    """The exchange of an admitted request, priced from the snapshot's `prices`; nothing
    is charged yet. Raises the 403 RelayError for a model without a price."""
    price = metering.price_for(req.model, prices, options)
    if price is None:
        raise refusals.model_not_priced(req.model)
    p = principal
    # Positional, in Meter's field order: keywords cost a frozen dataclass ~2 us more.
    meter = metering.Meter(
        p.token_id, p.token_name, p.user_id, p.username, p.group, p.group_ratio,
        p.unlimited, req.model, price, req.endpoint, req.n, req.prompt_tokens,
        req.max_tokens, req.stream, request_id, client_ip)
    return Exchange(started, principal, req, meter)


async def pre_charge(ex: Exchange, pre_consume_tokens: int) -> None:
    """Take the token's concurrency slot and reserve the estimate: both or neither. Both
    are given back where the request's billing ends (`settle` / `refund`). Raises the 402
    RelayError when the token or its user is short."""
    amount = metering.estimate(ex.meter, pre_consume_tokens)
    ex.slot = await throttle.take_slot(ex.principal)
    try:
        ex.reservation = await metering.pre_charge(ex.meter, amount)
    except BaseException as exc:
        await give_slot(ex)
        if isinstance(exc, quota.InsufficientQuota):
            raise refusals.insufficient_quota(exc.scope, exc.remaining, amount) from None
        raise


async def settle(ex: Exchange, usage: Usage, *, status: int, error: str = "",
                 detail: str = "") -> int:
    """Charge the exact amount for `usage` (once); returns the quota really charged."""
    reservation, ex.reservation = ex.reservation, None
    if reservation is None:
        return 0
    try:
        charged = await metering.settle(ex.meter, reservation, usage, ex.trail(),
                                        status=status, error=error, detail=detail)
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
        await metering.refund(ex.meter, reservation, ex.trail(), status=err.status,
                              error=f"{err.code}: {err.message}", detail=err.detail)
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
