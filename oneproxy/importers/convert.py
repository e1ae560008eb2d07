"""Small conversions from One API's column values to ours."""

import datetime
import json
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from django.conf import settings

from billing.models import QUOTA_MAX

DEFAULT_QUOTA_PER_UNIT = Decimal(500_000)


class QuotaConverter:
    """Source quota units -> ours: amount * QUOTA_PER_USD / QuotaPerUnit, exact when the
    ratio allows (the default 500,000 on both sides is 1:1), else rounded half-even and
    counted so the report can say so. Amounts above QUOTA_MAX (One API's columns go to
    2^63 - 1) become QUOTA_MAX, also counted."""

    def __init__(self, quota_per_unit: Decimal, ours: int | None = None):
        if quota_per_unit <= 0:
            raise ValueError("QuotaPerUnit must be positive")
        self.factor = Fraction(ours or settings.QUOTA_PER_USD) / Fraction(quota_per_unit)
        self.rounded = 0
        self.clamped = 0

    def __call__(self, amount) -> int:
        """The amount in our units, at most QUOTA_MAX (counted in `clamped` when cut)."""
        exact = Fraction(int(amount or 0)) * self.factor
        if exact.denominator != 1:
            self.rounded += 1
        if exact > QUOTA_MAX:
            self.clamped += 1
            return QUOTA_MAX
        return round(exact)


def parse_decimal(value, default: Decimal | None = None) -> Decimal | None:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        return default


def from_unix(seconds) -> datetime.datetime | None:
    """Unix seconds -> aware datetime; 0, -1, empty -> None."""
    try:
        seconds = int(seconds or 0)
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)


def split_list(value, separators: str = ",") -> list[str]:
    """A comma (or other) separated column as a list of distinct non-empty strings."""
    text = str(value or "")
    for sep in separators[1:]:
        text = text.replace(sep, separators[0])
    return list(dict.fromkeys(p.strip() for p in text.split(separators[0]) if p.strip()))


def parse_json_object(value) -> dict | None:
    """A JSON object column (text or already decoded); None when empty or not an object."""
    if isinstance(value, dict):
        return value
    text = (value.decode() if isinstance(value, bytes) else str(value or "")).strip()
    if not text or text == "null":
        return {}
    try:
        parsed = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def as_bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "t", "yes")
    return bool(value)
