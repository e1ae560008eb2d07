"""Per-model prices in USD, editable in the admin. One API's ratios are derived from them."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# One API's model ratio 1 means $2 per 1M input tokens ($0.002 per 1K).
USD_PER_MILLION_AT_RATIO_ONE = Decimal("2")

_price_field = dict(
    max_digits=14,
    decimal_places=6,
    null=True,
    blank=True,
    validators=[MinValueValidator(Decimal("0"))],
)


class Price(models.Model):
    """What one model costs. Token prices are USD per 1M tokens; a per-request price (images,
    audio) is USD per call and is added to any token cost."""

    model = models.CharField(_("model"), max_length=128, unique=True)
    input_price = models.DecimalField(_("input $/1M"), **_price_field)
    output_price = models.DecimalField(_("output $/1M"), **_price_field)
    cached_input_price = models.DecimalField(
        _("cached input $/1M"),
        **_price_field,
        help_text=_("Empty means cached input tokens cost the input price."),
    )
    per_request_price = models.DecimalField(_("$ per request"), **_price_field)
    provider = models.CharField(_("provider"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["model"]

    def __str__(self):
        return self.model

    def clean(self):
        super().clean()
        if self.input_price is None and self.per_request_price is None:
            raise ValidationError(_("Set token prices, a per-request price, or both."))

    @property
    def model_ratio(self) -> Decimal | None:
        """One API's ModelRatio for this price (1 = $2 per 1M input tokens)."""
        if self.input_price is None:
            return None
        return self.input_price / USD_PER_MILLION_AT_RATIO_ONE

    @property
    def completion_ratio(self) -> Decimal | None:
        """One API's CompletionRatio: output price over input price."""
        if not self.input_price or self.output_price is None:
            return None
        return self.output_price / self.input_price

    def snapshot(self) -> dict:
        """The prices as strings, for log rows and caches (exact, JSON-safe)."""
        return {
            "model": self.model,
            "input": _as_str(self.input_price),
            "output": _as_str(self.output_price),
            "cached_input": _as_str(self.cached_input_price),
            "per_request": _as_str(self.per_request_price),
        }


def _as_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
