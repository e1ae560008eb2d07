"""Charge computation in exact integer quota units.

charge = ceil((uncached_input * input_price + cached * cached_price + output * output_price)
              / 1M * QUOTA_PER_USD * group_ratio)  +  per-request price likewise.
Prices are Decimal USD per 1M tokens; the arithmetic stays in Decimal until the single
ceiling at the end, so no request is ever rounded twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from providers.base import Usage

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """The numbers of a Price row, detached from the ORM so caches can hold them."""

    model: str
    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    per_request: Decimal | None = None

    @classmethod
    def from_row(cls, price) -> PriceSpec:
        return cls(
            model=price.model,
            input=price.input_price,
            output=price.output_price,
            cached_input=price.cached_input_price,
            per_request=price.per_request_price,
        )

    def usd(self, usage: Usage) -> Decimal:
        """The exact USD cost of `usage` before the group ratio."""
        total = Decimal(0)
        if self.input is not None:
            cached_price = self.cached_input if self.cached_input is not None else self.input
            uncached = max(usage.prompt_tokens - usage.cached_tokens, 0)
            tokens_cost = (
                uncached * self.input
                + usage.cached_tokens * cached_price
                + usage.completion_tokens * (self.output if self.output is not None else self.input)
            )
            total += tokens_cost / MILLION
        if self.per_request is not None:
            total += self.per_request
        return total


def quota_for(
    price: PriceSpec, usage: Usage, group_ratio: Decimal, quota_per_usd: int | None = None
) -> int:
    """The integer quota to charge: one ceiling over the exact product."""
    per_usd = quota_per_usd if quota_per_usd is not None else settings.QUOTA_PER_USD
    exact = price.usd(usage) * per_usd * Decimal(group_ratio)
    return math.ceil(exact)


def quota_to_usd(quota: int, quota_per_usd: int | None = None) -> Decimal:
    per_usd = quota_per_usd if quota_per_usd is not None else settings.QUOTA_PER_USD
    return Decimal(quota) / Decimal(per_usd)
